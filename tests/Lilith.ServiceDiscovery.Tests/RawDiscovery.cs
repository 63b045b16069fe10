using Lilith.ServiceDiscovery.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Lilith.ServiceDiscovery.Tests;

/// <summary>Writes discovery data with plain commands, as another writer (a sibling, an older or a broken one) would.</summary>
internal sealed class RawDiscovery(IDatabase db, string prefix)
{
    public DiscoveryKeys Keys { get; } = new(prefix);

    public string Prefix => prefix;

    public IDatabase Db => db;

    public static async Task<RawDiscovery> CreateAsync(RedisFixture redis, string? prefix = null) =>
        new((await redis.ConnectionAsync()).GetDatabase(), prefix ?? RedisFixture.NewPrefix());

    /// <summary>The Redis server's clock, in Unix milliseconds.</summary>
    public async Task<long> NowAsync()
    {
        RedisResult[] time = (RedisResult[])(await db.ExecuteAsync("TIME"))!;
        return ((long)time[0] * 1000) + ((long)time[1] / 1000);
    }

    /// <summary>Stores an entry that expires <paramref name="expiresInMs"/> from now (negative: already expired), bumps the revision and lists the service.</summary>
    public async Task<long> WriteAsync(string service, string id, string json, long expiresInMs = 60_000)
    {
        long now = await NowAsync();
        await db.HashSetAsync(Keys.Instances(service), id, json);
        await db.SortedSetAddAsync(Keys.Expiry(service), id, now + expiresInMs);
        await db.SortedSetAddAsync(Keys.Services(), service, now);
        return await db.StringIncrementAsync(Keys.Revision(service));
    }

    public Task PublishAsync(string service, string json) =>
        db.PublishAsync(RedisChannel.Literal(Keys.EventsChannel(service)), json);

    /// <summary>Moves the entry's expiry into the past without removing it: expired, not yet swept.</summary>
    public async Task ExpireAsync(string service, string id) =>
        await db.SortedSetAddAsync(Keys.Expiry(service), id, await NowAsync() - 1);

    public async Task<string?> StoredAsync(string service, string id) => await db.HashGetAsync(Keys.Instances(service), id);

    public async Task<long> RevisionAsync(string service) => (long?)await db.StringGetAsync(Keys.Revision(service)) ?? 0;

    /// <summary>A client on this prefix with its own connection; timings long enough that only the test drives them unless set.</summary>
    public static async Task<ServiceProvider> ClientAsync(RedisFixture redis, string prefix, Action<DiscoveryOptions>? configure = null, CapturingLoggerProvider? logs = null)
    {
        var services = new ServiceCollection();
        services.AddLogging(b => b.AddProvider(logs ?? new CapturingLoggerProvider()));
        services.AddSingleton(await redis.NewConnectionAsync());
        services.AddServiceDiscovery(o =>
        {
            o.KeyPrefix = prefix;
            o.Ttl = TimeSpan.FromMinutes(10);
            o.SweepInterval = TimeSpan.FromMinutes(10);
            o.RefreshInterval = TimeSpan.FromMinutes(10);
            configure?.Invoke(o);
        });
        return services.BuildServiceProvider();
    }
}
