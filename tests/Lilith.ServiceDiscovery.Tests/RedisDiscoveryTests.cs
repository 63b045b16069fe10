using Lilith.ServiceDiscovery.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Lilith.ServiceDiscovery.Tests;

/// <summary>The contract on real Redis; every client gets its own connection.</summary>
public sealed class RedisDiscoveryTests(RedisFixture redis) : DiscoveryContractTests
{
    protected override async Task<ServiceProvider> CreateClientAsync(string prefix, Action<DiscoveryOptions>? configure = null, CapturingLoggerProvider? logs = null)
    {
        IConnectionMultiplexer connection = await redis.NewConnectionAsync();
        var services = new ServiceCollection();
        services.AddLogging(b => b.AddProvider(logs ?? new CapturingLoggerProvider()));
        services.AddSingleton(connection);
        services.AddServiceDiscovery(o =>
        {
            Defaults(o, prefix);
            configure?.Invoke(o);
        });
        return services.BuildServiceProvider();
    }

    /// <summary>Raw commands, as a TypeScript or Python writer would send them (schema/service-discovery.md).</summary>
    protected override async Task WriteRawAsync(string prefix, string service, string id, string json)
    {
        IDatabase db = (await redis.ConnectionAsync()).GetDatabase();
        var keys = new DiscoveryKeys(prefix);
        RedisResult time = await db.ExecuteAsync("TIME");
        long now = (long)((RedisResult[])time!)[0] * 1000;
        await db.HashSetAsync(keys.Instances(service), id, json);
        await db.SortedSetAddAsync(keys.Expiry(service), id, now + 60_000);
        await db.StringIncrementAsync(keys.Revision(service));
        await db.SortedSetAddAsync(keys.Services(), service, now);
    }

    [Fact]
    public async Task Events_carry_revisions_past_ten_to_the_fourteenth_exactly_as_integers()
    {
        string prefix = RedisFixture.NewPrefix();
        IDatabase db = (await redis.ConnectionAsync()).GetDatabase();
        var keys = new DiscoveryKeys(prefix);
        // Lua turns a number into text with %.14g: 100000000000001 became 1e+14, a different (and fractional) value.
        await db.StringSetAsync(keys.Revision("big"), "100000000000000");
        var published = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        ChannelMessageQueue queue = await (await redis.NewConnectionAsync()).GetSubscriber().SubscribeAsync(RedisChannel.Literal(keys.EventsChannel("big")));
        queue.OnMessage(m => published.TrySetResult(m.Message!));

        await using ServiceProvider client = await CreateClientAsync(prefix);
        await client.GetRequiredService<IServiceRegistry>().RegisterAsync("big", Instance("big-1"), TestContext.Current.CancellationToken);

        string json = await published.Task.WaitAsync(TimeSpan.FromSeconds(15), TestContext.Current.CancellationToken);
        Assert.Contains("\"revision\":100000000000001,", json, StringComparison.Ordinal);
        Assert.Equal("100000000000001", (string?)await db.StringGetAsync(keys.Revision("big")));
    }
}
