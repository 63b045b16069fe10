using Lilith.DistributedLock.Internal;
using StackExchange.Redis;

namespace Lilith.DistributedLock.Tests;

/// <summary>
/// Faults that hang instead of failing fast, on a Redis server of the test's own (a paused server would stall every
/// other test on the shared one): CLIENT PAUSE, hung connections, failover.
/// </summary>
public sealed class RedisLockFaultTests(RedisFixture redis)
{
    private static readonly LockProviderSettings Defaults = new(TimeSpan.FromSeconds(30), AutoRenew: true, MaxPollInterval: TimeSpan.FromMilliseconds(500));
    private readonly LockKeys _keys = new(RedisFixture.NewPrefix());

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string> Kinds => ["lock", "semaphore", "writer"];

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task An_acquire_whose_script_runs_after_its_timeout_leaves_no_grant_that_nobody_owns(string kind)
    {
        await using RedisServerProcess server = await redis.StartOwnedServerAsync();
        await using IConnectionMultiplexer holderConnection = await RedisFixture.ConnectAsync(server.ConnectionString);
        await using IConnectionMultiplexer otherConnection = await RedisFixture.ConnectAsync(server.ConnectionString);
        await using IConnectionMultiplexer admin = await RedisFixture.ConnectAsync(server.ConnectionString);
        LockProvider gaveUp = RedisLockContractTests.Provider(holderConnection, _keys, Defaults);
        LockProvider other = RedisLockContractTests.Provider(otherConnection, _keys, Defaults);

        // The acquire script is queued behind the pause; the caller's 300 ms timeout (and the 1 s answer grace) end first.
        await admin.GetDatabase().ExecuteAsync("CLIENT", "PAUSE", "3000", "ALL");
        Exception? error = await Record.ExceptionAsync(() => AcquireAsync(gaveUp, kind, "paused", TimeSpan.FromMilliseconds(300)));
        Assert.True(error is DistributedLockException or TimeoutException, $"the acquire ended with {error}");

        // When the pause ends Redis runs the queued script; the grant it makes (lease 30 s) must not block the next
        // caller for that long: the acquire that gave up releases it by its holder token.
        long waitStarted = TimeProvider.System.GetTimestamp();
        await using IDistributedLockHandle next = await AcquireAsync(other, kind, "paused", TimeSpan.FromSeconds(15));
        TimeSpan waited = TimeProvider.System.GetElapsedTime(waitStarted);
        Assert.True(waited < TimeSpan.FromSeconds(15), $"the next caller waited {waited.TotalMilliseconds:0} ms");
        Assert.False(next.LostToken.IsCancellationRequested);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    [InlineData("reader")]
    public async Task An_acquire_retried_with_the_same_holder_token_finds_its_own_grant_with_a_new_larger_token(string kind)
    {
        IDatabase db = (await redis.ConnectionAsync()).GetDatabase();
        const string Holder = "python:worker-3:4242:0f1e2d3c4b5a69788796a5b4c3d2e1f0";
        const string Other = "node:worker-4:77:00000000000000000000000000000002";

        RedisResult[] first = await TryAsync(db, kind, Holder, 30_000);
        Assert.Equal(1, (long)first[0]);
        RedisResult[] retried = await TryAsync(db, kind, Holder, 30_000);
        Assert.Equal(1, (long)retried[0]);
        if (kind == "reader")
        {
            Assert.Equal((long)first[1], (long)retried[1]); // a read token is the last write's, not a new one
        }
        else
        {
            Assert.True((long)retried[1] > (long)first[1], $"token {(long)retried[1]} after {(long)first[1]}");
            Assert.Equal(0, (long)(await TryAsync(db, kind, Other, 30_000))[0]); // still exclusive for everyone else
        }
    }

    private async Task<RedisResult[]> TryAsync(IDatabase db, string kind, string holder, long leaseMs)
    {
        const string Name = "retried";
        RedisKey[] rw = [_keys.Readers(Name), _keys.Writer(Name), _keys.WriterIntent(Name), _keys.ReaderWriterFence(Name)];
        return (RedisResult[])(kind switch
        {
            "lock" => await db.ScriptEvaluateAsync(LockScripts.Acquire, [_keys.Lock(Name), _keys.Fence(Name)], [holder, leaseMs]),
            "semaphore" => await db.ScriptEvaluateAsync(SemaphoreScripts.Acquire, [_keys.SemaphoreHolders(Name), _keys.SemaphoreFence(Name)], [holder, leaseMs, 1]),
            "writer" => await db.ScriptEvaluateAsync(ReaderWriterScripts.AcquireWrite, rw, [holder, leaseMs, 0]),
            _ => await db.ScriptEvaluateAsync(ReaderWriterScripts.AcquireRead, rw, [holder, leaseMs]),
        })!;
    }

    internal static async Task<IDistributedLockHandle> AcquireAsync(LockProvider locks, string kind, string name, TimeSpan timeout, LockAcquireOptions? options = null) => kind switch
    {
        "lock" => await locks.AcquireAsync(name, timeout, options, Ct),
        "semaphore" => await locks.AcquireSemaphoreAsync(name, 1, timeout, options, Ct),
        _ => await locks.AcquireWriteLockAsync(name, timeout, options, Ct),
    };
}
