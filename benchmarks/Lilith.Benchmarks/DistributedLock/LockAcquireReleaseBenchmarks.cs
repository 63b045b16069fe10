// The anchors (DistributedLock.Redis, RedLock.net) need two PackageReference lines in Lilith.Benchmarks.csproj
// and <DefineConstants>$(DefineConstants);LILITH_LOCK_ANCHORS</DefineConstants>; without them only the Lilith
// and PING rows run, so the project builds either way.
using BenchmarkDotNet.Attributes;
using Lilith.DistributedLock;
using Lilith.DistributedLock.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
#if LILITH_LOCK_ANCHORS
using Medallion.Threading.Redis;
using RedLockNet.SERedis;
using RedLockNet.SERedis.Configuration;
#endif

namespace Lilith.Benchmarks.DistributedLock;

/// <summary>
/// Uncontended acquire + release of one lock on a loopback Redis, against madelson's DistributedLock.Redis (the
/// baseline) and RedLock.net, with PING in the same run to express the cost in round trips (goal: at most 2.2);
/// and the same for a reader-writer lock's read side against madelson's reader-writer lock.
/// </summary>
[MemoryDiagnoser]
public class LockAcquireReleaseBenchmarks
{
    private BenchmarkRedis _redis = null!;
    private IConnectionMultiplexer _connection = null!;
    private IDatabase _db = null!;
    private LockProvider _lilith = null!;
#if LILITH_LOCK_ANCHORS
    private RedLockFactory _redLock = null!;
#endif

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _redis = await BenchmarkRedis.StartAsync();
        _connection = await _redis.ConnectAsync();
        _db = _connection.GetDatabase();
        _lilith = new LockProvider(
            RedisLockBackend.On(_connection, new LockKeys("lilith-bench")),
            new LockProviderSettings(TimeSpan.FromSeconds(30), AutoRenew: true, MaxPollInterval: TimeSpan.FromMilliseconds(500)),
            TimeProvider.System,
            NullLogger.Instance);
#if LILITH_LOCK_ANCHORS
        _redLock = RedLockFactory.Create([new RedLockMultiplexer(_connection)]);
#endif
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
#if LILITH_LOCK_ANCHORS
        _redLock.Dispose();
#endif
        await _connection.DisposeAsync();
        await _redis.DisposeAsync();
    }

    /// <summary>One round trip: the unit.</summary>
    [Benchmark]
    public Task<TimeSpan> Ping() => _db.PingAsync();

    /// <summary>Lilith: acquire (one script) + release (one script), auto-renewal on as by default.</summary>
    [Benchmark]
    public Task<long> Lilith() => ReleaseOnceAsync(_lilith.AcquireAsync("uncontended", TimeSpan.Zero));

    /// <summary>Lilith reader-writer lock: read acquire (one script) + release (one script), auto-renewal on.</summary>
    [Benchmark]
    public Task<long> LilithReadLock() => ReleaseOnceAsync(_lilith.AcquireReadLockAsync("uncontended-rw", TimeSpan.Zero));

    /// <summary>Awaits a grant and releases it (what every Lilith row measures besides its acquire call).</summary>
    private static async Task<long> ReleaseOnceAsync(ValueTask<IDistributedLockHandle> acquire)
    {
        IDistributedLockHandle handle = await acquire;
        long token = handle.FencingToken;
        await handle.ReleaseAsync();
        return token;
    }

#if LILITH_LOCK_ANCHORS
    /// <summary>madelson DistributedLock.Redis reader-writer lock, read side: the anchor of the read row.</summary>
    [Benchmark]
    public async Task<bool> MadelsonReadLock()
    {
        await using RedisDistributedReaderWriterLockHandle? handle = await new RedisDistributedReaderWriterLock("madelson-uncontended-rw", _db).TryAcquireReadLockAsync();
        return handle is not null;
    }

    /// <summary>madelson DistributedLock.Redis: the anchor.</summary>
    [Benchmark(Baseline = true)]
    public async Task<bool> MadelsonDistributedLock()
    {
        await using RedisDistributedLockHandle? handle = await new RedisDistributedLock("madelson-uncontended", _db).TryAcquireAsync();
        return handle is not null;
    }

    /// <summary>RedLock.net with one multiplexer.</summary>
    [Benchmark]
    public async Task<bool> RedLockNet()
    {
        await using RedLockNet.IRedLock redLock = await _redLock.CreateLockAsync("redlock-uncontended", TimeSpan.FromSeconds(30));
        return redLock.IsAcquired;
    }
#endif
}
