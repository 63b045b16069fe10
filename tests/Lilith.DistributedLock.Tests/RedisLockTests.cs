using Lilith.DistributedLock.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace Lilith.DistributedLock.Tests;

/// <summary>The contract on Redis: two providers on two separate connections.</summary>
public sealed class RedisLockContractTests(RedisFixture redis) : LockContractTests
{
    private readonly LockKeys _keys = new(RedisFixture.NewPrefix());

    internal static LockProvider Provider(IConnectionMultiplexer connection, LockKeys keys, LockProviderSettings settings, TimeProvider? clock = null) =>
        new(RedisLockBackend.On(connection, keys), settings, clock ?? TimeProvider.System, NullLogger.Instance);

    private protected override async Task<(IDistributedLockProvider First, IDistributedLockProvider Second)> CreatePairAsync(LockProviderSettings settings, TimeProvider? providerClock = null) =>
        (Provider(await redis.ConnectionAsync(), _keys, settings, providerClock), Provider(await redis.NewConnectionAsync(), _keys, settings, providerClock));

    protected override async Task DeleteExternallyAsync(string name) =>
        Assert.True(await (await redis.ConnectionAsync()).GetDatabase().KeyDeleteAsync(_keys.Lock(name)));

    protected override async Task DeleteReaderWriterExternallyAsync(string name, bool writer) =>
        Assert.True(await (await redis.ConnectionAsync()).GetDatabase().KeyDeleteAsync(writer ? _keys.Writer(name) : _keys.Readers(name)));
}
