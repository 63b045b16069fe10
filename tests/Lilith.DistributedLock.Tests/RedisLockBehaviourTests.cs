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
    public async Task Reader_writer_contention_on_two_connections_never_lets_a_writer_in_with_anyone()
    {
        LockProvider[] providers =
        [
            RedisLockContractTests.Provider(await redis.NewConnectionAsync(), _keys, Defaults),
            RedisLockContractTests.Provider(await redis.NewConnectionAsync(), _keys, Defaults),
        ];
        const int ReadGrants = 400, WriteGrants = 150;
        int readsIssued = 0, writesIssued = 0, readers = 0, writers = 0, violations = 0, staleReadTokens = 0, reads = 0, writes = 0;
        long lastWriteToken = 0;
        var writeTokens = new List<long>(WriteGrants);

        async Task ReaderAsync(IDistributedReaderWriterLockProvider locks)
        {
            while (Interlocked.Increment(ref readsIssued) <= ReadGrants)
            {
                await using IDistributedLockHandle read = await locks.AcquireReadLockAsync("rw-contended", TimeSpan.FromSeconds(30), cancellationToken: Ct);
                Interlocked.Increment(ref readers);
                Interlocked.Increment(ref reads);
                if (Volatile.Read(ref writers) != 0)
                {
                    Interlocked.Increment(ref violations);
                }

                // Before the first write a read token comes from the server clock; after it, it is the last write's token.
                long lastWrite = Interlocked.Read(ref lastWriteToken);
                if (lastWrite != 0 ? read.FencingToken != lastWrite : read.FencingToken <= 0)
                {
                    Interlocked.Increment(ref staleReadTokens);
                }

                await Task.Delay(TimeSpan.FromMilliseconds(1), Ct); // longer than a round trip, so an overlapping grant would be seen
                if (Volatile.Read(ref writers) != 0)
                {
                    Interlocked.Increment(ref violations);
                }

                Interlocked.Decrement(ref readers);
            }
        }

        async Task WriterAsync(IDistributedReaderWriterLockProvider locks)
        {
            while (Interlocked.Increment(ref writesIssued) <= WriteGrants)
            {
                await using IDistributedLockHandle write = await locks.AcquireWriteLockAsync("rw-contended", TimeSpan.FromSeconds(30), cancellationToken: Ct);
                if (Interlocked.Increment(ref writers) != 1 || Volatile.Read(ref readers) != 0)
                {
                    Interlocked.Increment(ref violations);
                }

                Interlocked.Increment(ref writes);
                lock (writeTokens)
                {
                    writeTokens.Add(write.FencingToken);
                }

                Interlocked.Exchange(ref lastWriteToken, write.FencingToken);
                await Task.Delay(TimeSpan.FromMilliseconds(1), Ct); // longer than a round trip, so an overlapping grant would be seen
                if (Volatile.Read(ref writers) != 1 || Volatile.Read(ref readers) != 0)
                {
                    Interlocked.Increment(ref violations);
                }

                Interlocked.Decrement(ref writers);
            }
        }

        // 12 readers and 4 writers, half on each connection; each holds its grant for about a millisecond.
        Task[] workers =
        [
            .. Enumerable.Range(0, 12).Select(i => Task.Run(() => ReaderAsync(providers[i % 2]), Ct)),
            .. Enumerable.Range(0, 4).Select(i => Task.Run(() => WriterAsync(providers[i % 2]), Ct)),
        ];
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(60), Ct);

        Assert.Equal(0, violations);
        Assert.Equal(0, staleReadTokens);
        Assert.Equal(ReadGrants, reads);
        Assert.Equal(WriteGrants, writes);
        Assert.Equal(writeTokens.Order().Distinct(), writeTokens); // strictly increasing, in grant order
        IDatabase db = (await redis.ConnectionAsync()).GetDatabase();
        Assert.Equal(writeTokens[^1], (long)await db.StringGetAsync(_keys.ReaderWriterFence("rw-contended")));
        Assert.False(await db.KeyExistsAsync(_keys.Writer("rw-contended")));
        Assert.False(await db.KeyExistsAsync(_keys.WriterIntent("rw-contended")));
        Assert.Equal(0, await db.SortedSetLengthAsync(_keys.Readers("rw-contended")));
    }

    [Fact]
    public async Task Reader_writer_keys_hold_what_the_schema_says_and_a_raw_redis_writer_hands_over_to_a_reader()
    {
        IDatabase db = (await redis.ConnectionAsync()).GetDatabase();
        LockProvider locks = RedisLockContractTests.Provider(await redis.NewConnectionAsync(), _keys, Defaults with { MaxPollInterval = TimeSpan.FromSeconds(5) });
        RedisKey[] keys = [_keys.Readers("doc"), _keys.Writer("doc"), _keys.WriterIntent("doc"), _keys.ReaderWriterFence("doc")];

        // A reader's entry: member = holder token, score = lease end on the server's clock; the zset expires with it.
        IDistributedLockHandle reader = await locks.AcquireReadLockAsync("doc", TimeSpan.Zero, cancellationToken: Ct);
        SortedSetEntry entry = Assert.Single(await db.SortedSetRangeByRankWithScoresAsync(_keys.Readers("doc")));
        Assert.Equal(((LockHandle)reader).Holder, entry.Element.ToString());
        RedisResult[] time = (RedisResult[])(await db.ExecuteAsync("TIME"))!;
        long now = (long)time[0] * 1000 + (long)time[1] / 1000;
        Assert.InRange(entry.Score - now, 25_000, 30_000);
        Assert.InRange((await db.KeyTimeToLiveAsync(_keys.Readers("doc")))!.Value, TimeSpan.FromSeconds(25), TimeSpan.FromSeconds(30));

        // A waiting C# writer registers its intent (its holder token, with the intent lease: 3 x 5 s poll cap).
        Task<IDistributedLockHandle> writer = locks.AcquireWriteLockAsync("doc", TimeSpan.FromSeconds(10), cancellationToken: Ct).AsTask();
        Assert.True(await Eventually.TrueWithinAsync(() => db.KeyExists(_keys.WriterIntent("doc")), TimeSpan.FromSeconds(5)));
        Assert.InRange((await db.KeyTimeToLiveAsync(_keys.WriterIntent("doc")))!.Value, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(15));
        var refused = (RedisResult[])(await db.ScriptEvaluateAsync(ReaderWriterScripts.AcquireRead, keys, ["python:reader:1:00000000000000000000000000000001", 30000]))!;
        Assert.Equal(0, (long)refused[0]); // a new reader (any language) is refused while the writer waits ...
        Assert.InRange((long)refused[1], 1, 15_000); // ... and told the intent's PTTL
        await reader.ReleaseAsync(Ct);
        IDistributedLockHandle written = await writer.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.Equal(((LockHandle)written).Holder, (string?)await db.StringGetAsync(_keys.Writer("doc")));
        Assert.False(await db.KeyExistsAsync(_keys.WriterIntent("doc")));
        Assert.Equal(written.FencingToken, (long)await db.StringGetAsync(_keys.ReaderWriterFence("doc")));
        Assert.True(written.FencingToken > reader.FencingToken);
        await written.ReleaseAsync(Ct);

        // A Python writer, by the schema's scripts: acquire (registers no intent with ARGV[3] = 0), then release.
        const string PythonWriter = "python:worker-3:4242:0f1e2d3c4b5a69788796a5b4c3d2e1f0";
        var granted = (RedisResult[])(await db.ScriptEvaluateAsync(ReaderWriterScripts.AcquireWrite, keys, [PythonWriter, 30000, 0]))!;
        Assert.Equal(1, (long)granted[0]);
        Assert.True((long)granted[1] > written.FencingToken);
        Task<IDistributedLockHandle> waitingReader = locks.AcquireReadLockAsync("doc", TimeSpan.FromSeconds(10), cancellationToken: Ct).AsTask();
        await Task.Delay(TimeSpan.FromMilliseconds(700), Ct);
        Assert.False(waitingReader.IsCompleted);
        Assert.Equal(1, (long)await db.ScriptEvaluateAsync(LockScripts.Release, [_keys.Writer("doc"), _keys.ReaderWriterReleasedChannel("doc")], [PythonWriter]));
        await using IDistributedLockHandle read = await waitingReader.WaitAsync(TimeSpan.FromMilliseconds(400), Ct);
        Assert.Equal((long)granted[1], read.FencingToken);
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

        Assert.True(handle.FencingToken > pythonToken);
        string? value = await db.StringGetAsync(_keys.Lock("shared"));
        Assert.Matches(HolderFormat(), value);
        Assert.Equal(((LockHandle)handle).Holder, value);
        TimeSpan? ttl = await db.KeyTimeToLiveAsync(_keys.Lock("shared"));
        Assert.InRange(ttl!.Value, TimeSpan.FromSeconds(25), TimeSpan.FromSeconds(30));
        Assert.InRange((await db.KeyTimeToLiveAsync(_keys.Fence("shared")))!.Value, TimeSpan.FromSeconds(25), TimeSpan.FromSeconds(30)); // the fence lives as long as the lease
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

    [Trait("Redis", "own-servers")]
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

    [Trait("Redis", "own-servers")]
    [Fact]
    public async Task The_acquire_timeout_bounds_the_wait_when_redis_refuses_the_password()
    {
        RedisServerProcess server = await redis.StartOwnedServerAsync();
        await using (IConnectionMultiplexer admin = await RedisFixture.ConnectAsync(server.ConnectionString))
        {
            await admin.GetServers()[0].ExecuteAsync("CONFIG", "SET", "requirepass", "right-password");
        }

        // StackExchange.Redis keeps retrying the handshake with the wrong password; each command would wait its own
        // 5 s timeout, so only the acquire timeout bounding every call keeps the caller's 1 s promise.
        await using ConnectionMultiplexer connection = await ConnectionMultiplexer.ConnectAsync(
            $"{server.ConnectionString},password=wrong-password,abortConnect=false,connectTimeout=5000,asyncTimeout=5000");
        LockProvider provider = RedisLockContractTests.Provider(connection, _keys, Defaults);

        long started = Environment.TickCount64;
        Task<IDistributedLockHandle> acquire = provider.AcquireAsync("refused", TimeSpan.FromSeconds(1), cancellationToken: Ct).AsTask();
        Exception error = await Assert.ThrowsAsync<DistributedLockException>(() => acquire.WaitAsync(TimeSpan.FromSeconds(30), Ct));
        long elapsed = Environment.TickCount64 - started;

        Assert.Contains("'refused'", error.Message, StringComparison.Ordinal);
        Assert.Contains("within the timeout of 1000 ms", error.Message, StringComparison.Ordinal);
        // Timeout plus the 1 s grace, with room for a loaded machine, yet below the 5 s a single unanswered command takes.
        Assert.True(elapsed < 4500, $"AcquireAsync with a 1 s timeout returned after {elapsed} ms");
        Assert.DoesNotContain("right-password", error.ToString(), StringComparison.Ordinal);
        await server.KillAsync();
    }

    [GeneratedRegex(@"^dotnet:[A-Za-z0-9._-]{1,64}:[0-9]+:[0-9a-f]{32}$")]
    private static partial Regex HolderFormat();
}
