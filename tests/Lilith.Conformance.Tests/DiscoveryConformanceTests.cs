using System.Collections.Concurrent;
using System.Text.Json;
using Lilith.ServiceDiscovery;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace Lilith.Conformance.Tests;

/// <summary>schema/service-discovery.md from both sides: instances hash, expiry zset, revision, index sets and events channel.</summary>
public sealed class DiscoveryConformanceTests(RedisFixture redis) : ConformanceScenario(redis)
{
    [Theory]
    [MemberData(nameof(Sibling.Languages), MemberType = typeof(Sibling))]
    public async Task Sibling_registers_and_the_CSharp_resolver_returns_it_and_raises_registered_and_deregistered(string language)
    {
        Sibling sibling = await SiblingAsync(language);
        await using ServiceProvider services = await DiscoveryAsync(sibling.Prefix);
        IServiceResolver resolver = services.GetRequiredService<IServiceResolver>();
        Assert.Empty(await resolver.ResolveAsync("orders", cancellationToken: Ct));
        var events = new ConcurrentQueue<DiscoveryEvent>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        Task pump = Collect(resolver, "orders", events, stop.Token);

        JsonElement registered = await sibling.RunAsync("discovery-register", "--service", "orders", "--id", $"orders-{language}",
            "--host", "10.1.2.3", "--port", "9001", "--zone", "eu-1a", "--tags", "grpc,edge", "--version", "2.1.0", "--ttl", "15000");
        Assert.True(registered.GetProperty("written").GetBoolean());
        // Received from the events channel, not found by a reload (IsResync): the channel name and the event JSON are shared.
        await Eventually.TrueAsync(() => events.Any(e => e.Kind == DiscoveryEventKind.Registered && e.InstanceId == $"orders-{language}" && !e.IsResync),
            "C# watcher gets the registered event from the events channel");
        DiscoveryEvent e = events.First(e => e.Kind == DiscoveryEventKind.Registered && !e.IsResync);
        Assert.Equal("orders", e.Service);
        Assert.Equal(registered.GetProperty("revision").GetInt64(), e.Revision);
        Assert.Equal(9001, e.Instance!.Port);

        await Eventually.TrueAsync(async () => (await resolver.ResolveAsync("orders", cancellationToken: Ct)).Count == 1, "C# resolves the sibling's instance");
        ServiceInstance instance = Assert.Single(await resolver.ResolveAsync("orders", new InstanceFilter { Zone = "eu-1a", Tags = ["grpc"], Version = "2.1.0" }, Ct));
        Assert.Equal(("10.1.2.3", 9001, "http", InstanceHealth.Passing), (instance.Host, instance.Port, instance.Scheme, instance.Health));
        Assert.Equal(["grpc", "edge"], instance.Tags);
        using (InstanceLease lease = await resolver.SelectAsync("orders", cancellationToken: Ct))
        {
            Assert.Equal(new Uri("http://10.1.2.3:9001"), lease.Instance.ToUri());
        }

        Assert.True((await sibling.RunAsync("discovery-heartbeat", "--service", "orders", "--id", $"orders-{language}", "--ttl", "15000")).GetProperty("renewed").GetBoolean());
        Assert.True((await sibling.RunAsync("discovery-deregister", "--service", "orders", "--id", $"orders-{language}")).GetProperty("removed").GetBoolean());
        await Eventually.TrueAsync(() => events.Any(e => e.Kind == DiscoveryEventKind.Deregistered && e.InstanceId == $"orders-{language}" && !e.IsResync),
            "C# watcher gets the deregistered event from the events channel");
        await Eventually.TrueAsync(async () => (await resolver.ResolveAsync("orders", cancellationToken: Ct)).Count == 0, "C# drops the deregistered instance");
        await stop.CancelAsync();
        await pump;
    }

    [Theory]
    [MemberData(nameof(Sibling.Languages), MemberType = typeof(Sibling))]
    public async Task CSharp_registers_and_the_sibling_resolves_heartbeats_and_receives_the_events(string language)
    {
        Sibling sibling = await SiblingAsync(language);
        await using ServiceProvider services = await DiscoveryAsync(sibling.Prefix);
        IServiceRegistry registry = services.GetRequiredService<IServiceRegistry>();
        using Sibling.Running watch = await sibling.StartAsync("discovery-watch", "--service", "billing", "--count", "3", "--timeout-ms", "20000");

        var instance = new ServiceInstance { Id = "billing-cs", Host = "10.9.8.7", Port = 7070, Zone = "eu-1b", Version = "1.4.0", Tags = ["http2"], Metadata = new Dictionary<string, string> { ["team"] = "payments" } };
        await registry.RegisterAsync("billing", instance, Ct);
        JsonElement resolved = await sibling.RunAsync("discovery-resolve", "--service", "billing");
        JsonElement seen = Assert.Single(resolved.GetProperty("instances").EnumerateArray());
        Assert.Equal("billing-cs", seen.GetProperty("id").GetString());
        Assert.Equal(("10.9.8.7", 7070, "eu-1b", "1.4.0", "passing"), (seen.GetProperty("host").GetString(), seen.GetProperty("port").GetInt32(),
            seen.GetProperty("zone").GetString(), seen.GetProperty("version").GetString(), seen.GetProperty("health").GetString()));
        Assert.Equal("http2", Assert.Single(seen.GetProperty("tags").EnumerateArray()).GetString());
        Assert.Equal("payments", seen.GetProperty("metadata").GetProperty("team").GetString());
        Assert.True(resolved.GetProperty("revision").GetInt64() >= 1);

        // The sibling's heartbeat renews the C# registration (same expiry zset).
        Assert.True((await sibling.RunAsync("discovery-heartbeat", "--service", "billing", "--id", "billing-cs", "--ttl", "15000")).GetProperty("renewed").GetBoolean());
        Assert.False((await sibling.RunAsync("discovery-heartbeat", "--service", "billing", "--id", "nobody", "--ttl", "15000")).GetProperty("renewed").GetBoolean());

        Assert.True(await registry.SetHealthAsync("billing", "billing-cs", InstanceHealth.Warning, Ct));
        Assert.True(await registry.DeregisterAsync("billing", "billing-cs", Ct));
        JsonElement[] events = [.. (await watch.ResultAsync()).GetProperty("events").EnumerateArray()];
        Assert.Equal(["registered", "health-changed", "deregistered"], events.Select(e => e.GetProperty("type").GetString()));
        Assert.All(events, e => Assert.Equal(("billing", "billing-cs"), (e.GetProperty("service").GetString(), e.GetProperty("id").GetString())));
        Assert.Equal(7070, events[0].GetProperty("instance").GetProperty("port").GetInt32());
        Assert.Equal("warning", events[1].GetProperty("instance").GetProperty("health").GetString());
        long[] revisions = [.. events.Select(e => e.GetProperty("revision").GetInt64())];
        Assert.Equal([revisions[0], revisions[0] + 1, revisions[0] + 2], revisions);
        Assert.Empty((await sibling.RunAsync("discovery-resolve", "--service", "billing")).GetProperty("instances").EnumerateArray());
    }

    /// <summary>
    /// schema/service-discovery.md, "Reading a payload": the same stored entries, ordinary but imperfect, resolve to the same
    /// instances in C# and in the sibling (one rule for wrong-typed and null members, none coerced).
    /// </summary>
    [Theory]
    [MemberData(nameof(Sibling.Languages), MemberType = typeof(Sibling))]
    public async Task Imperfect_entries_resolve_to_the_same_instances_in_CSharp_and_the_sibling(string language)
    {
        Sibling sibling = await SiblingAsync(language);
        string[] members =
        [
            "\"port\":8080", "\"port\":\"8080\"", "\"port\":8080.0", "\"port\":true", "\"port\":null", "\"port\":0",
            "\"port\":8080,\"weight\":\"2\"", "\"port\":8080,\"weight\":null", "\"port\":8080,\"weight\":2.5",
            "\"port\":8080,\"zone\":7", "\"port\":8080,\"zone\":null,\"version\":null", "\"port\":8080,\"version\":[]",
            "\"port\":8080,\"scheme\":\"\"", "\"port\":8080,\"scheme\":null", "\"port\":8080,\"tags\":\"edge\"",
            "\"port\":8080,\"tags\":[\"a\",1]", "\"port\":8080,\"tags\":null", "\"port\":8080,\"metadata\":{\"n\":1}",
            "\"port\":8080,\"metadata\":null", "\"port\":8080,\"health\":\"sick\"", "\"port\":8080,\"health\":null",
            "\"port\":8080,\"future\":{\"x\":[1]}",
        ];
        IDatabase db = (await Redis.ConnectionAsync()).GetDatabase();
        RedisResult[] time = (RedisResult[])(await db.ExecuteAsync("TIME"))!;
        long now = ((long)time[0] * 1000) + 1000;
        string instances = $"{sibling.Prefix}:discovery:{{imperfect}}:instances", expiry = $"{sibling.Prefix}:discovery:{{imperfect}}:expiry";
        for (int i = 0; i < members.Length; i++)
        {
            await db.HashSetAsync(instances, $"e-{i}", $$"""{"v":1,"id":"e-{{i}}","host":"10.0.0.{{i}}",{{members[i]}}}""");
            await db.SortedSetAddAsync(expiry, $"e-{i}", now + 60_000);
        }

        await db.HashSetAsync(instances, "v-text", """{"v":"1","id":"v-text","host":"10.0.0.99","port":8080}""");
        await db.SortedSetAddAsync(expiry, "v-text", now + 60_000);
        await using ServiceProvider services = await DiscoveryAsync(sibling.Prefix);

        IEnumerable<string> csharp = (await services.GetRequiredService<IServiceResolver>().ResolveAsync("imperfect", new InstanceFilter { IncludeWarning = true }, Ct))
            .Select(i => i.Id);
        IEnumerable<string> theirs = (await sibling.RunAsync("discovery-resolve", "--service", "imperfect")).GetProperty("instances").EnumerateArray()
            .Where(i => !i.TryGetProperty("health", out JsonElement health) || health.ValueKind != JsonValueKind.String || health.GetString() != "critical")
            .Select(i => i.GetProperty("id").GetString()!);

        string[] expected = ["e-0", "e-10", "e-13", "e-16", "e-18", "e-2", "e-20", "e-21", "e-7"];
        Assert.Equal(expected, csharp.Order(StringComparer.Ordinal));
        Assert.Equal(expected, theirs.Order(StringComparer.Ordinal));
    }

    private async Task<ServiceProvider> DiscoveryAsync(string prefix)
    {
        var services = new ServiceCollection();
        services.AddSingleton(await Redis.NewConnectionAsync());
        services.AddServiceDiscovery(o => o.KeyPrefix = prefix);
        return services.BuildServiceProvider();
    }

    /// <summary>Watches from the call on (WatchAsync subscribes when called) and collects in the background.</summary>
    private static Task Collect(IServiceResolver resolver, string service, ConcurrentQueue<DiscoveryEvent> events, CancellationToken stop)
    {
        IAsyncEnumerable<DiscoveryEvent> watch = resolver.WatchAsync(service, stop);
        return Task.Run(async () =>
        {
            try
            {
                await foreach (DiscoveryEvent e in watch)
                {
                    events.Enqueue(e);
                }
            }
            catch (OperationCanceledException)
            {
            }
        });
    }
}
