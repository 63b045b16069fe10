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
}
