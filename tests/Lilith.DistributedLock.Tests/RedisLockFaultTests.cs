using System.Diagnostics;
using Lilith.DistributedLock.Internal;
using Microsoft.Extensions.Logging.Abstractions;
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

    [Trait("Redis", "own-servers")]
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

    [Trait("Redis", "own-servers")]
    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task The_lost_signal_fires_before_another_client_can_be_granted_when_the_holders_network_hangs(string kind)
    {
        RedisServerProcess server = await redis.StartOwnedServerAsync();
        FaultProxy proxy = redis.StartProxy(server);
        await using IConnectionMultiplexer holderConnection = await RedisFixture.ConnectAsync(proxy.ConnectionString);
        await using IConnectionMultiplexer otherConnection = await RedisFixture.ConnectAsync(server.ConnectionString);
        LockProvider holders = RedisLockContractTests.Provider(holderConnection, _keys, Defaults);
        LockProvider others = RedisLockContractTests.Provider(otherConnection, _keys, Defaults);

        IDistributedLockHandle held = await AcquireAsync(holders, kind, "hung", TimeSpan.Zero, new LockAcquireOptions { Ttl = TimeSpan.FromSeconds(3) });
        long lostAt = 0;
        using CancellationTokenRegistration onLost = held.LostToken.Register(() => Volatile.Write(ref lostAt, Stopwatch.GetTimestamp()));
        Assert.True(await Eventually.TrueWithinAsync(() => ((LockHandle)held).Renewals > 0, TimeSpan.FromSeconds(10)), "no renewal before the hang");

        // The holder's network drops every byte from now on (sockets stay open); renewals go out and never come back.
        proxy.Hang();
        long grantSent;
        while (true)
        {
            // One try at a time, each timestamped before it is sent: the grant happened after its try was sent.
            grantSent = Stopwatch.GetTimestamp();
            IDistributedLockHandle? next = await TryOnceAsync(others, kind, "hung");
            if (next is not null)
            {
                await next.DisposeAsync();
                break;
            }

            Assert.True(Stopwatch.GetElapsedTime(grantSent) < TimeSpan.FromSeconds(1));
            await Task.Delay(TimeSpan.FromMilliseconds(1), Ct);
        }

        long lost = Volatile.Read(ref lostAt);
        Assert.True(lost != 0 && lost < grantSent,
            lost == 0 ? "LostToken had not fired when another client was granted the lock"
                      : $"LostToken fired {Stopwatch.GetElapsedTime(grantSent, lost).TotalMilliseconds:0.#} ms after the try that got another client the lock was sent");
    }

    [Trait("Redis", "own-servers")]
    [Fact]
    public async Task Fencing_tokens_grow_across_a_restart_without_persistence()
    {
        RedisServerProcess server = await redis.StartOwnedServerAsync();
        await using IConnectionMultiplexer connection = await RedisFixture.ConnectAsync(server.ConnectionString);
        LockProvider locks = RedisLockContractTests.Provider(connection, _keys, Defaults);
        long before = await GrantAsync(locks, "restarted");
        long before2 = await GrantAsync(locks, "restarted");
        Assert.True(before2 > before);

        await server.RestartAsync(Ct); // no save, no AOF: the fence is gone
        Assert.True(await Eventually.TrueWithinAsync(() => connection.IsConnected, TimeSpan.FromSeconds(15)));
        long after = await GrantAsync(locks, "restarted");
        Assert.True(after > before2, $"token {after} after the restart, {before2} before it");
    }

    [Trait("Redis", "own-servers")]
    [Fact]
    public async Task In_a_split_brain_a_later_grant_never_gets_a_smaller_token_and_a_demoted_masters_holder_is_told_it_lost()
    {
        SplitBrain pair = await redis.StartOwnedSplitBrainAsync();
        await using IConnectionMultiplexer onOld = await RedisFixture.ConnectAsync(pair.OldMaster.ConnectionString);
        await using IConnectionMultiplexer onNew = await RedisFixture.ConnectAsync(pair.NewMaster.ConnectionString);
        LockProvider oldSide = RedisLockContractTests.Provider(onOld, _keys, Defaults);
        LockProvider newSide = RedisLockContractTests.Provider(onNew, _keys, Defaults);
        IDistributedLockHandle heldOnOld = await oldSide.AcquireAsync("held", TimeSpan.Zero, new LockAcquireOptions { Ttl = TimeSpan.FromSeconds(30), AutoRenew = false }, Ct);
        var tokens = new List<(string Side, long Token)>();
        for (int i = 0; i < 3; i++)
        {
            tokens.Add(("A", await GrantAsync(oldSide, "split")));
        }

        // B is promoted while A still takes writes: both grant the name, one after the other in real time.
        await pair.PromoteAsync(Ct);
        await onNew.ConfigureAsync();
        for (int i = 0; i < 6; i++)
        {
            tokens.Add(i % 2 == 0 ? ("A", await GrantAsync(oldSide, "split")) : ("B", await GrantAsync(newSide, "split")));
        }

        // A holder granted on A before the promotion (so B and, after the resync, A still hold its key) when A is demoted:
        // its renewal meets READONLY, which means the lease is lost (not a transient error to retry until the lease ends).
        await pair.DemoteOldMasterAsync(Ct);
        Assert.False(await heldOnOld.ExtendAsync(Ct));
        Assert.True(heldOnOld.LostToken.IsCancellationRequested);

        // After A resynced from B, B's grants still come after every token issued on either side.
        tokens.Add(("B", await GrantAsync(newSide, "split")));
        for (int i = 1; i < tokens.Count; i++)
        {
            Assert.True(tokens[i].Token > tokens[i - 1].Token,
                $"grant {i} on {tokens[i].Side} got token {tokens[i].Token} after {tokens[i - 1].Token} on {tokens[i - 1].Side}: {string.Join(", ", tokens)}");
        }
    }

    [Trait("Redis", "own-servers")]
    [Fact]
    public async Task With_replica_acknowledgements_a_grant_is_handed_out_only_once_a_replica_holds_it()
    {
        var oneReplica = new ReplicaAcknowledgement(1, TimeSpan.FromMilliseconds(300));
        SplitBrain pair = await redis.StartOwnedSplitBrainAsync(); // B replicates A
        await using IConnectionMultiplexer onMaster = await RedisFixture.ConnectAsync(pair.OldMaster.ConnectionString);
        var replicated = new LockProvider(RedisLockBackend.On(onMaster, _keys, oneReplica), Defaults, TimeProvider.System, NullLogger.Instance);
        await using (IDistributedLockHandle held = await replicated.AcquireAsync("acked", TimeSpan.FromSeconds(5), cancellationToken: Ct))
        {
            Assert.Equal(":1", await RedisFaults.CommandAsync(pair.NewMaster.Port, Ct, "EXISTS", _keys.Lock("acked")));
            Assert.True(await held.ExtendAsync(Ct));
        }

        // A master without a replica cannot confirm: the acquire fails clearly at its timeout and leaves no grant behind.
        RedisServerProcess alone = await redis.StartOwnedServerAsync();
        await using IConnectionMultiplexer onAlone = await RedisFixture.ConnectAsync(alone.ConnectionString);
        var unconfirmed = new LockProvider(RedisLockBackend.On(onAlone, _keys, oneReplica), Defaults, TimeProvider.System, NullLogger.Instance);
        DistributedLockException error = await Assert.ThrowsAsync<DistributedLockException>(() => unconfirmed.AcquireAsync("acked", TimeSpan.FromSeconds(1), cancellationToken: Ct).AsTask());
        Assert.Contains("0 of 1 replicas", error.Message, StringComparison.Ordinal);
        IDatabase aloneDb = onAlone.GetDatabase();
        Assert.True(await Eventually.TrueWithinAsync(() => !aloneDb.KeyExists(_keys.Lock("acked")), TimeSpan.FromSeconds(10)), "the unconfirmed grant was left behind");
    }

    private static async Task<long> GrantAsync(LockProvider locks, string name)
    {
        await using IDistributedLockHandle handle = await locks.AcquireAsync(name, TimeSpan.FromSeconds(5), cancellationToken: Ct);
        return handle.FencingToken;
    }

    private static async Task<IDistributedLockHandle?> TryOnceAsync(LockProvider locks, string kind, string name) => kind switch
    {
        "lock" => await locks.TryAcquireAsync(name, TimeSpan.Zero, cancellationToken: Ct),
        "semaphore" => await locks.TryAcquireSemaphoreAsync(name, 1, TimeSpan.Zero, cancellationToken: Ct),
        _ => await locks.TryAcquireWriteLockAsync(name, TimeSpan.Zero, cancellationToken: Ct),
    };

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
