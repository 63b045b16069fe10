using System.Text.RegularExpressions;
using Lilith.DistributedLock.Internal;
using StackExchange.Redis;

namespace Lilith.DistributedLock.Tests;

/// <summary>The issue's "must show" points on a real Redis: contention, raw-Redis holders of other languages, faults.</summary>
public sealed partial class RedisLockBehaviourTests(RedisFixture redis)
{
    private static readonly LockProviderSettings Defaults = new(TimeSpan.FromSeconds(30), AutoRenew: true, MaxPollInterval: TimeSpan.FromMilliseconds(500));
    private readonly LockKeys _keys = new(RedisFixture.NewPrefix());

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Contention_50_tasks_on_two_connections_1000_grants_one_holder_at_a_time_and_increasing_fencing_tokens()
    {
        LockProvider[] providers =
        [
            RedisLockContractTests.Provider(await redis.NewConnectionAsync(), _keys, Defaults),
            RedisLockContractTests.Provider(await redis.NewConnectionAsync(), _keys, Defaults),
        ];
        const int Grants = 1000;
        int issued = 0, inside = 0, overlaps = 0;
        var tokensInGrantOrder = new List<long>(Grants);

        async Task WorkerAsync(LockProvider locks)
        {
            while (Interlocked.Increment(ref issued) <= Grants)
            {
                await using IDistributedLockHandle handle = await locks.AcquireAsync("contended", TimeSpan.FromSeconds(30), cancellationToken: Ct);
                if (Interlocked.Increment(ref inside) != 1)
                {
                    Interlocked.Increment(ref overlaps);
                }

                lock (tokensInGrantOrder)
                {
                    tokensInGrantOrder.Add(handle.FencingToken);
                }

                await Task.Yield();
                Interlocked.Decrement(ref inside);
            }
        }

        await Task.WhenAll(Enumerable.Range(0, 50).Select(i => Task.Run(() => WorkerAsync(providers[i % 2]), Ct))).WaitAsync(TimeSpan.FromSeconds(60), Ct);

        Assert.Equal(0, overlaps);
        Assert.Equal(Grants, tokensInGrantOrder.Count);
        for (int i = 1; i < tokensInGrantOrder.Count; i++)
        {
            Assert.True(tokensInGrantOrder[i] > tokensInGrantOrder[i - 1], $"grant {i} has token {tokensInGrantOrder[i]} after {tokensInGrantOrder[i - 1]}");
        }

        Assert.Equal(tokensInGrantOrder[^1], (long)await (await redis.ConnectionAsync()).GetDatabase().StringGetAsync(_keys.Fence("contended")));
    }

    [Fact]
    public async Task A_lock_key_written_with_raw_redis_commands_blocks_acquisition_and_its_release_hands_over()
    {
        IDatabase db = (await redis.ConnectionAsync()).GetDatabase();
        LockProvider locks = RedisLockContractTests.Provider(await redis.NewConnectionAsync(), _keys, Defaults with { MaxPollInterval = TimeSpan.FromSeconds(5) });

        // A Python worker holding the lock, as schema/distributed-lock.md tells it to: INCR fence, SET lock token PX.
        const string PythonHolder = "python:worker-3:4242:0f1e2d3c4b5a69788796a5b4c3d2e1f0";
        long pythonToken = await db.StringIncrementAsync(_keys.Fence("shared"));
        Assert.True(await db.StringSetAsync(_keys.Lock("shared"), PythonHolder, TimeSpan.FromSeconds(30), When.NotExists));

        Assert.Null(await locks.TryAcquireAsync("shared", TimeSpan.FromMilliseconds(100), cancellationToken: Ct));
        Task<IDistributedLockHandle> waiter = locks.AcquireAsync("shared", TimeSpan.FromSeconds(10), cancellationToken: Ct).AsTask();
        await Task.Delay(TimeSpan.FromMilliseconds(700), Ct);
        Assert.False(waiter.IsCompleted);

        // The Python side releases with the schema's release script: compare, DEL, PUBLISH.
        RedisResult released = await db.ScriptEvaluateAsync(LockScripts.Release, [_keys.Lock("shared"), _keys.ReleasedChannel("shared")], [PythonHolder]);
        Assert.Equal(1, (long)released);
        await using IDistributedLockHandle handle = await waiter.WaitAsync(TimeSpan.FromMilliseconds(400), Ct);

        Assert.Equal(pythonToken + 1, handle.FencingToken);
        string? value = await db.StringGetAsync(_keys.Lock("shared"));
        Assert.Matches(HolderFormat(), value);
        Assert.Equal(((LockHandle)handle).Holder, value);
        TimeSpan? ttl = await db.KeyTimeToLiveAsync(_keys.Lock("shared"));
        Assert.InRange(ttl!.Value, TimeSpan.FromSeconds(25), TimeSpan.FromSeconds(30));
        Assert.Null(await db.KeyTimeToLiveAsync(_keys.Fence("shared")));
    }

    [Fact]
    public async Task Renewal_never_recreates_a_lock_that_is_gone()
    {
        IDatabase db = (await redis.ConnectionAsync()).GetDatabase();
        LockProvider locks = RedisLockContractTests.Provider(await redis.NewConnectionAsync(), _keys, Defaults);
        IDistributedLockHandle handle = await locks.AcquireAsync("gone", options: new LockAcquireOptions { Ttl = TimeSpan.FromMilliseconds(300) }, cancellationToken: Ct);

        await db.KeyDeleteAsync(_keys.Lock("gone"));
        Assert.NotNull(await Eventually.FiresWithinAsync(handle.LostToken, TimeSpan.FromSeconds(2)));
        Assert.False(await handle.ExtendAsync(Ct));

        Assert.False(await db.KeyExistsAsync(_keys.Lock("gone")));
        Assert.Equal(0, (long)await db.ScriptEvaluateAsync(LockScripts.Renew, [_keys.Lock("gone")], [((LockHandle)handle).Holder, 30000]));
        Assert.False(await db.KeyExistsAsync(_keys.Lock("gone")));
    }

    [Fact]
    public async Task Killing_redis_signals_loss_to_holders_and_waiters_end_clearly_or_win_after_restart()
    {
        var unobserved = new List<Exception>();
        EventHandler<UnobservedTaskExceptionEventArgs> onUnobserved = (_, e) =>
        {
            lock (unobserved)
            {
                unobserved.Add(e.Exception);
            }
        };
        TaskScheduler.UnobservedTaskException += onUnobserved;
        try
        {
            RedisServerProcess server = await redis.StartOwnedServerAsync();
            IConnectionMultiplexer holderConnection = await RedisFixture.ConnectAsync(server.ConnectionString);
            IConnectionMultiplexer waiterConnection = await RedisFixture.ConnectAsync(server.ConnectionString);
            LockProvider holders = RedisLockContractTests.Provider(holderConnection, _keys, Defaults);
            LockProvider waiters = RedisLockContractTests.Provider(waiterConnection, _keys, Defaults);

            IDistributedLockHandle held = await holders.AcquireAsync("fault", options: new LockAcquireOptions { Ttl = TimeSpan.FromMilliseconds(1200) }, cancellationToken: Ct);
            Task<IDistributedLockHandle?> shortWaiter = waiters.TryAcquireAsync("fault", TimeSpan.FromSeconds(2), cancellationToken: Ct).AsTask();
            Task<IDistributedLockHandle> longWaiter = waiters.AcquireAsync("fault", TimeSpan.FromSeconds(20), cancellationToken: Ct).AsTask();
            await Task.Delay(TimeSpan.FromMilliseconds(100), Ct);

            await server.KillAsync();
            TimeSpan? lostAfter = await Eventually.FiresWithinAsync(held.LostToken, TimeSpan.FromSeconds(4));
            Assert.NotNull(lostAfter);
            Assert.True(lostAfter < TimeSpan.FromMilliseconds(1500), $"the holder learned of the loss after {lostAfter?.TotalMilliseconds} ms; its lease is 1200 ms");

            // A waiter whose timeout passes while Redis is down fails with a clear error (never a hang).
            Exception shortError = await Assert.ThrowsAsync<DistributedLockException>(() => shortWaiter.WaitAsync(TimeSpan.FromSeconds(10), Ct));
            Assert.Contains("'fault'", shortError.Message, StringComparison.Ordinal);
            Assert.Contains("could not be reached", shortError.Message, StringComparison.Ordinal);

            // Releasing a lost handle after the crash neither hangs nor throws from DisposeAsync.
            await held.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);

            await server.RestartAsync(Ct);
            await using IDistributedLockHandle winner = await longWaiter.WaitAsync(TimeSpan.FromSeconds(15), Ct);
            Assert.False(winner.LostToken.IsCancellationRequested);
            Assert.Equal(LockReleaseResult.Released, await winner.ReleaseAsync(Ct));

            await holderConnection.DisposeAsync();
            await waiterConnection.DisposeAsync();
        }
        finally
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            TaskScheduler.UnobservedTaskException -= onUnobserved;
        }

        Assert.Empty(unobserved);
    }

    [GeneratedRegex(@"^dotnet:[A-Za-z0-9._-]{1,64}:[0-9]+:[0-9a-f]{32}$")]
    private static partial Regex HolderFormat();
}
