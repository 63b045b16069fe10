using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace Lilith.ServiceDiscovery.Tests;

/// <summary>Kill and restart a Redis the test owns: registrations come back by themselves, watchers resync, nothing throws unobserved.</summary>
public sealed class RedisFaultTests(RedisFixture redis)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Trait("Redis", "own-servers")]
    [Fact]
    public async Task After_kill_and_restart_instances_reregister_and_watchers_resync()
    {
        var unobserved = new ConcurrentQueue<Exception>();
        EventHandler<UnobservedTaskExceptionEventArgs> onUnobserved = (_, e) => unobserved.Enqueue(e.Exception);
        TaskScheduler.UnobservedTaskException += onUnobserved;
        try
        {
            RedisServerProcess server = await redis.StartOwnedServerAsync();
            string prefix = RedisFixture.NewPrefix();
            await using IConnectionMultiplexer connA = await RedisFixture.ConnectAsync(server.ConnectionString);
            await using IConnectionMultiplexer connB = await RedisFixture.ConnectAsync(server.ConnectionString);
            await using ServiceProvider a = Client(connA, prefix);
            await using ServiceProvider b = Client(connB, prefix);
            IServiceResolver resolverB = b.GetRequiredService<IServiceResolver>();
            Assert.Empty(await resolverB.ResolveAsync("pay", cancellationToken: Ct));
            await using var events = new EventLog(resolverB, "pay");
            await a.GetRequiredService<IServiceRegistry>().RegisterAsync("pay", new ServiceInstance { Id = "pay-a", Host = "10.0.0.1", Port = 8001 }, Ct);
            await b.GetRequiredService<IServiceRegistry>().RegisterAsync("pay", new ServiceInstance { Id = "pay-b", Host = "10.0.0.2", Port = 8002 }, Ct);
            await Eventually.TrueAsync(async () => (await resolverB.ResolveAsync("pay", cancellationToken: Ct)).Count == 2, TimeSpan.FromSeconds(5), "both registered");

            // Client A dies before the crash (no deregister): nobody re-registers pay-a, so B's resync must drop it and say so.
            await a.DisposeAsync();
            await server.KillAsync();
            await Eventually.TrueAsync(() => !resolverB.IsBackendReachable, TimeSpan.FromSeconds(5), "outage visible");
            // While Redis is down the last known instances are served from the cache.
            Assert.Equal(["pay-a", "pay-b"], (await resolverB.ResolveAsync("pay", cancellationToken: Ct)).Select(i => i.Id));

            await server.RestartAsync(Ct);
            await Eventually.TrueAsync(async () =>
                connB.IsConnected && await connB.GetDatabase().HashExistsAsync($"{prefix}:discovery:{{pay}}:instances", "pay-b"),
                TimeSpan.FromSeconds(20), "pay-b registered again by itself in the restarted (empty) server");
            await Eventually.TrueAsync(() => events.Events.Any(e => e.Kind == DiscoveryEventKind.Deregistered && e.InstanceId == "pay-a" && e.IsResync),
                TimeSpan.FromSeconds(10), "watcher resynced: pay-a reported gone");
            await Eventually.TrueAsync(async () => (await resolverB.ResolveAsync("pay", cancellationToken: Ct)).Select(i => i.Id).SequenceEqual(["pay-b"]) && resolverB.IsBackendReachable,
                TimeSpan.FromSeconds(10), "cache back in sync");

            // The subscription is back: a registration made after the restart reaches the watcher as an event.
            await b.GetRequiredService<IServiceRegistry>().RegisterAsync("pay", new ServiceInstance { Id = "pay-c", Host = "10.0.0.3", Port = 8003 }, Ct);
            await Eventually.TrueAsync(() => events.Has(DiscoveryEventKind.Registered, "pay-c"), TimeSpan.FromSeconds(10), "post-restart event seen");
            Assert.Equal(["pay-b", "pay-c"], (await resolverB.ResolveAsync("pay", cancellationToken: Ct)).Select(i => i.Id));
        }
        finally
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            TaskScheduler.UnobservedTaskException -= onUnobserved;
        }

        Assert.Empty(unobserved);
    }

    [Fact]
    public async Task Raw_schema_writes_and_events_from_another_language_are_picked_up()
    {
        string prefix = RedisFixture.NewPrefix();
        await using ServiceProvider client = Client(await redis.NewConnectionAsync(), prefix);
        IServiceResolver resolver = client.GetRequiredService<IServiceResolver>();
        Assert.Empty(await resolver.ResolveAsync("gateway", cancellationToken: Ct));
        await using var events = new EventLog(resolver, "gateway");

        // What a TypeScript writer does, command by command (schema/service-discovery.md, "Register"): run the register script
        // verbatim; here with plain commands in a MULTI, plus the PUBLISH, to show the data alone is the contract.
        IDatabase db = (await redis.ConnectionAsync()).GetDatabase();
        const string Json = """{"v":1,"id":"gw-ts-1","host":"10.9.9.9","port":3000,"scheme":"https","weight":2,"tags":["edge"],"metadata":{"lang":"ts"},"zone":"z1","health":"passing","futureMember":true}""";
        RedisResult time = await db.ExecuteAsync("TIME");
        long now = (long)((RedisResult[])time!)[0] * 1000;
        ITransaction tx = db.CreateTransaction();
        _ = tx.HashSetAsync($"{prefix}:discovery:{{gateway}}:instances", "gw-ts-1", Json);
        _ = tx.SortedSetAddAsync($"{prefix}:discovery:{{gateway}}:expiry", "gw-ts-1", now + 60_000);
        _ = tx.SetAddAsync($"{prefix}:discovery:{{gateway}}:index:tag:edge", "gw-ts-1");
        Task<long> revision = tx.StringIncrementAsync($"{prefix}:discovery:{{gateway}}:revision");
        Assert.True(await tx.ExecuteAsync());
        await db.PublishAsync(RedisChannel.Literal($"{prefix}:discovery:{{gateway}}:events"),
            $$"""{"v":1,"type":"registered","service":"gateway","id":"gw-ts-1","revision":{{await revision}},"at":{{now}},"instance":{{Json}}}""");
        await db.PublishAsync(RedisChannel.Literal($"{prefix}:discovery:{{gateway}}:events"), "garbage that is not an event");

        await Eventually.TrueAsync(() => events.Has(DiscoveryEventKind.Registered, "gw-ts-1"), TimeSpan.FromSeconds(5), "event received");
        ServiceInstance instance = Assert.Single(await resolver.ResolveAsync("gateway", new InstanceFilter { Tags = ["edge"], Zone = "z1" }, Ct));
        Assert.Equal(new Uri("https://10.9.9.9:3000/"), instance.ToUri());
        Assert.Equal(2, instance.Weight);
        Assert.Equal("ts", instance.Metadata["lang"]);
    }

    private static ServiceProvider Client(IConnectionMultiplexer connection, string prefix)
    {
        var services = new ServiceCollection();
        services.AddSingleton(connection);
        services.AddServiceDiscovery(o =>
        {
            o.KeyPrefix = prefix;
            o.Ttl = TimeSpan.FromSeconds(1);
            o.HeartbeatInterval = TimeSpan.FromMilliseconds(300);
            o.SweepInterval = TimeSpan.FromMilliseconds(250);
        });
        return services.BuildServiceProvider();
    }
}
