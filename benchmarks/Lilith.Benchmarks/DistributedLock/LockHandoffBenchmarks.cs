// Anchor rows need the DistributedLock.Redis PackageReference and LILITH_LOCK_ANCHORS (see LockAcquireReleaseBenchmarks.cs).
using BenchmarkDotNet.Attributes;
using Lilith.DistributedLock;
using Lilith.DistributedLock.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
#if LILITH_LOCK_ANCHORS
using Medallion.Threading.Redis;
#endif

namespace Lilith.Benchmarks.DistributedLock;

/// <summary>
/// Handoff: two contenders on two connections pass one lock back and forth; each release happens while the other
/// side is already waiting, so one operation = release + the waiter noticing + its grant (goal: 5x faster than
/// DistributedLock.Redis, which polls).
/// </summary>
[MemoryDiagnoser]
public class LockHandoffBenchmarks
{
    private const int Handoffs = 20;
    private BenchmarkRedis _redis = null!;
    private IConnectionMultiplexer[] _connections = null!;
    private LockProvider[] _lilith = null!;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _redis = await BenchmarkRedis.StartAsync();
        _connections = [await _redis.ConnectAsync(), await _redis.ConnectAsync()];
        _lilith = _connections.Select(c => new LockProvider(
            RedisLockBackend.On(c, new LockKeys("lilith-bench")),
            new LockProviderSettings(TimeSpan.FromSeconds(30), AutoRenew: true, MaxPollInterval: TimeSpan.FromMilliseconds(500)),
            TimeProvider.System,
            NullLogger.Instance)).ToArray();
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        foreach (IConnectionMultiplexer connection in _connections)
        {
            await connection.DisposeAsync();
        }

        await _redis.DisposeAsync();
    }

    /// <summary>Lilith: release script publishes, the subscribed waiter tries at once.</summary>
    [Benchmark(OperationsPerInvoke = Handoffs)]
    public Task Lilith() => PingPongAsync(async side => await _lilith[side].AcquireAsync("handoff", TimeSpan.FromSeconds(10)));

#if LILITH_LOCK_ANCHORS
    /// <summary>madelson DistributedLock.Redis: the anchor.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Handoffs)]
    public Task MadelsonDistributedLock() =>
        PingPongAsync(async side => await new RedisDistributedLock("madelson-handoff", _connections[side].GetDatabase()).AcquireAsync(TimeSpan.FromSeconds(10)));
#endif

    private static async Task PingPongAsync(Func<int, Task<IAsyncDisposable>> acquire)
    {
        IAsyncDisposable held = await acquire(0);
        int holder = 0;
        for (int i = 0; i < Handoffs; i++)
        {
            Task<IAsyncDisposable> waiter = acquire(1 - holder);
            await Task.Yield(); // the waiter's first try is on the wire before the release
            await held.DisposeAsync();
            held = await waiter;
            holder = 1 - holder;
        }

        await held.DisposeAsync();
    }
}
