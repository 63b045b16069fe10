using System.Diagnostics;
using Lilith.CircuitBreaker.Internal;
using Microsoft.Extensions.Time.Testing;
using Polly;
using Polly.CircuitBreaker;
using StackExchange.Redis;

namespace Lilith.CircuitBreaker.Tests;

/// <summary>Breakers of several instances sharing one state through a real Redis. Run alone: it measures a 100 ms latency.</summary>
[Collection(nameof(TimingSensitive))]
public sealed class RedisSharedStateTests(RedisFixture redis) : IAsyncDisposable
{
    private readonly FakeTimeProvider _time = new();
    private readonly List<IAsyncDisposable> _owned = [];

    // Tests of the published change set the sync interval far beyond the time they wait, so a poll cannot pass them;
    // the wait itself is generous for a loaded machine.
    private static readonly TimeSpan NoSyncWithinTheTest = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan PublishedChangeWithin = TimeSpan.FromSeconds(10);

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Three_breakers_on_separate_connections_share_one_state_and_one_fleet_wide_probe()
    {
        string prefix = RedisFixture.NewPrefix();
        var fleet = new List<(ResiliencePipeline P, CircuitBreakerControl C)>();
        for (int i = 0; i < 3; i++)
        {
            // A sync interval far beyond the wait below: only the published change can open the others in time.
            RedisBreakerStateStore store = Own(RedisStores.Create(await redis.NewConnectionAsync(), prefix, $"instance-{i}", NoSyncWithinTheTest));
            await store.Subscribed;
            fleet.Add(Calls.Breaker(new LilithCircuitBreakerOptions { Name = "payments", FailureThreshold = 2, BreakDuration = TimeSpan.FromSeconds(30), StateStore = store }, _time));
        }

        await Calls.Fail(fleet[0].P);
        await Calls.Fail(fleet[0].P);
        Assert.Equal(CircuitState.Open, fleet[0].C.State);
        await Calls.Until(() => fleet.All(b => b.C.State == CircuitState.Open), PublishedChangeWithin, "the other two open on the published change");
        foreach (var (p, _) in fleet)
        {
            var rejected = Assert.IsType<BrokenCircuitException>((await Calls.Succeed(p)).Exception);
            Assert.InRange(rejected.RetryAfter!.Value, TimeSpan.FromSeconds(29), TimeSpan.FromSeconds(30));
        }

        // The break ends everywhere at once; every instance tries to probe, only one may.
        _time.Advance(TimeSpan.FromSeconds(31));
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int[] entered = new int[3];
        List<Task<Outcome<int>>> probes = [];
        var rounds = Stopwatch.StartNew();
        while (rounds.Elapsed < TimeSpan.FromMilliseconds(500))
        {
            for (int i = 0; i < 3; i++)
            {
                int n = i;
                probes.Add(Calls.Run(fleet[n].P, async () =>
                {
                    Interlocked.Increment(ref entered[n]);
                    await gate.Task;
                    return Outcome.FromResult(7);
                }).AsTask());
            }

            await Task.Delay(10, Token);
        }

        Assert.Equal(1, entered.Sum());
        Assert.Equal(1, entered.Count(e => e == 1));
        gate.SetResult();
        await Task.WhenAll(probes);
        await Calls.Until(() => fleet.All(b => b.C.State == CircuitState.Closed), TimeSpan.FromSeconds(2), "the fleet closes after the probe");
        Assert.All(fleet, b => Assert.Equal(7, Calls.Succeed(b.P, 7).AsTask().Result.Result));
    }

    [Fact]
    public async Task With_a_quorum_one_instance_that_trips_alone_opens_only_itself()
    {
        string prefix = RedisFixture.NewPrefix();
        var fleet = await QuorumFleetAsync(prefix, "payments", 3);
        await Calls.Fail(fleet[0].P);
        await Calls.Fail(fleet[0].P);
        Assert.Equal(CircuitState.Open, fleet[0].C.State);
        Assert.IsType<BrokenCircuitException>((await Calls.Succeed(fleet[0].P)).Exception);

        // The trip is counted in Redis, and the decision is taken in the same script: once it is there, nothing else is coming.
        var keys = new BreakerKeys(prefix);
        IDatabase db = (await redis.ConnectionAsync()).GetDatabase();
        await Calls.UntilAsync(async () => (await db.SortedSetScoreAsync(keys.Trips("payments"), "instance-0")).HasValue, TimeSpan.FromSeconds(5), "the trip is reported");
        Assert.False((await db.StringGetAsync(keys.State("payments"))).HasValue, "the shared state was written by a lone trip");
        Assert.Equal(CircuitState.Closed, fleet[1].C.State);
        Assert.Equal(CircuitState.Closed, fleet[2].C.State);
        Assert.Equal(5, (await Calls.Succeed(fleet[1].P, 5)).Result);

        // It probes on its own when its break is over, closes, and withdraws its trip.
        _time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(6, (await Calls.Succeed(fleet[0].P, 6)).Result);
        Assert.Equal(CircuitState.Closed, fleet[0].C.State);
        await Calls.UntilAsync(async () => !(await db.SortedSetScoreAsync(keys.Trips("payments"), "instance-0")).HasValue, TimeSpan.FromSeconds(5), "the recovery is reported");

        // A second lone trip elsewhere now makes no quorum either.
        await Calls.Fail(fleet[1].P);
        await Calls.Fail(fleet[1].P);
        await Calls.UntilAsync(async () => (await db.SortedSetScoreAsync(keys.Trips("payments"), "instance-1")).HasValue, TimeSpan.FromSeconds(5), "the second trip is reported");
        Assert.False((await db.StringGetAsync(keys.State("payments"))).HasValue, "two trips that never overlapped opened the fleet");
        Assert.Equal(CircuitState.Closed, fleet[2].C.State);
    }

    [Fact]
    public async Task With_a_quorum_a_real_outage_opens_every_instance_within_a_pub_sub_round_trip_of_the_quorum()
    {
        string prefix = RedisFixture.NewPrefix();
        var fleet = await QuorumFleetAsync(prefix, "ledger", 3, syncInterval: NoSyncWithinTheTest);
        var keys = new BreakerKeys(prefix);
        IDatabase db = (await redis.ConnectionAsync()).GetDatabase();
        await Calls.Fail(fleet[0].P);
        await Calls.Fail(fleet[0].P);
        await Calls.UntilAsync(async () => (await db.SortedSetScoreAsync(keys.Trips("ledger"), "instance-0")).HasValue, TimeSpan.FromSeconds(5), "the first trip is reported");
        Assert.Equal(CircuitState.Closed, fleet[2].C.State);

        await Calls.Fail(fleet[1].P);
        await Calls.Fail(fleet[1].P);
        await Calls.Until(() => fleet[2].C.State == CircuitState.Open, PublishedChangeWithin, "the third instance opens on the published change");
        BreakerStateSnapshot s = BreakerStatePayload.Read((await db.StringGetAsync(keys.State("ledger")))!);
        Assert.Equal((CircuitState.Open, "instance-1", TimeSpan.FromSeconds(30)), (s.State, s.Instance, s.BreakDuration));
        foreach (var (p, _) in fleet)
        {
            Assert.IsType<BrokenCircuitException>((await Calls.Succeed(p)).Exception);
        }

        // The fleet's open state has one prober for the fleet, and its close closes everyone.
        _time.Advance(TimeSpan.FromSeconds(31));
        int ran = 0;
        for (int round = 0; round < 3 && ran == 0; round++)
        {
            foreach (var (p, _) in fleet)
            {
                if ((await Calls.Run(p, () => { ran++; return Outcome.FromResultAsValueTask(1); })).Exception is null)
                {
                    break;
                }
            }
        }

        Assert.Equal(1, ran);
        await Calls.Until(() => fleet.All(b => b.C.State == CircuitState.Closed), TimeSpan.FromSeconds(5), "the fleet closes after the probe");
    }

    [Trait("Redis", "own-servers")]
    [Fact]
    public async Task With_a_quorum_a_trip_made_while_Redis_was_down_is_reported_after_the_restart_and_still_counts()
    {
        RedisServerProcess server = await redis.StartOwnedServerAsync();
        string prefix = RedisFixture.NewPrefix();
        var logs = new CollectingLoggerFactory();

        // Commands queued while Redis is down give up after the connection's timeout (5 s): the report made during the outage fails for good.
        var fleet = await QuorumFleetAsync(prefix, "ledger", 2, () => RedisFixture.ConnectAsync(server.ConnectionString), failureThreshold: 1, logs);
        await server.KillAsync();
        await Calls.Fail(fleet[0].P);
        Assert.Equal(CircuitState.Open, fleet[0].C.State);
        await Calls.Until(() => logs.Records.Any(r => r.Category == "Lilith.CircuitBreaker" && r.Exception is not null), TimeSpan.FromSeconds(15), "the report made during the outage fails");

        await server.RestartAsync(Token);
        string trips = new BreakerKeys(prefix).Trips("ledger");
        await UntilOnRestartedAsync(server, async db => (await db.SortedSetScoreAsync(trips, "instance-0")).HasValue, "the first trip reaches the restarted Redis");
        Assert.Equal(CircuitState.Closed, fleet[1].C.State);

        await Calls.Fail(fleet[1].P);
        await Calls.Until(() => fleet.All(b => b.C.State == CircuitState.Open), TimeSpan.FromSeconds(5), "b's trip completes the quorum with a's");
    }

    /// <summary>Breakers with a quorum of 2 (30 s break and window), each on a connection of its own, listening.</summary>
    private async Task<List<(ResiliencePipeline P, CircuitBreakerControl C)>> QuorumFleetAsync(
        string prefix, string breaker, int size, Func<Task<IConnectionMultiplexer>>? connect = null, int failureThreshold = 2, CollectingLoggerFactory? logs = null, TimeSpan? syncInterval = null)
    {
        var fleet = new List<(ResiliencePipeline P, CircuitBreakerControl C)>();
        for (int i = 0; i < size; i++)
        {
            IConnectionMultiplexer connection = connect is null ? await redis.NewConnectionAsync() : await connect();
            RedisBreakerStateStore store = Own(RedisStores.Create(connection, prefix, $"instance-{i}", syncInterval ?? TimeSpan.FromMilliseconds(100)));
            await store.Subscribed;
            fleet.Add(Calls.Breaker(
                new LilithCircuitBreakerOptions
                {
                    Name = breaker, FailureThreshold = failureThreshold, BreakDuration = TimeSpan.FromSeconds(30), StateStore = store, LoggerFactory = logs,
                    FleetPolicy = BreakerFleetPolicy.Quorum, QuorumInstances = 2, QuorumWindow = TimeSpan.FromSeconds(30),
                },
                _time));
        }

        return fleet;
    }

    [Fact]
    public async Task A_write_is_newer_than_the_stored_state_even_when_the_server_clock_is_not()
    {
        // Two writes in one millisecond, or a write after a failover to a server whose clock is behind: the state a
        // writer stores must still be newer than the one it replaces, or every instance refuses it (the same-millisecond
        // tie goes to the more cautious state, so a closed right after an open would never be applied).
        string prefix = RedisFixture.NewPrefix();
        var keys = new BreakerKeys(prefix);
        IDatabase db = (await redis.ConnectionAsync()).GetDatabase();
        RedisResult time = await db.ExecuteAsync("TIME");
        long ahead = ((long)((RedisResult[])time!)[0] * 1000) + 60_000;
        var stored = new BreakerStateSnapshot("ledger", CircuitState.Open, TimeSpan.FromSeconds(30), 1, "instance-9", ahead);
        await db.StringSetAsync(keys.State("ledger"), BreakerStatePayload.Write(stored), TimeSpan.FromMinutes(5));

        RedisBreakerStateStore store = Own(RedisStores.Create(await redis.NewConnectionAsync(), prefix, "instance-1"));
        BreakerStateSnapshot written = await store.WriteAsync(
            new BreakerStateSnapshot("ledger", CircuitState.Closed, TimeSpan.Zero, 0, "instance-1", 0), releaseProbe: false, TestContext.Current.CancellationToken);

        Assert.True(written.ChangedAt > ahead, $"the closed state was stamped {written.ChangedAt}, not after the stored {ahead}");
        Assert.Equal(written.ChangedAt, BreakerStatePayload.Read((await db.StringGetAsync(keys.State("ledger")))!).ChangedAt);
    }

    [Fact]
    public async Task A_late_older_closed_announcement_does_not_undo_a_newer_open()
    {
        string prefix = RedisFixture.NewPrefix();
        var keys = new BreakerKeys(prefix);
        RedisBreakerStateStore store = Own(RedisStores.Create(await redis.NewConnectionAsync(), prefix, "dotnet-1"));
        await store.Subscribed;
        int closes = 0;
        var (p, c) = Calls.Breaker(new LilithCircuitBreakerOptions { Name = "mq", StateStore = store, OnClosed = _ => { Interlocked.Increment(ref closes); return default; } }, _time);
        IDatabase db = (await redis.ConnectionAsync()).GetDatabase();
        await db.PublishAsync(RedisChannel.Literal(keys.ChangedChannel()), """{"v":1,"breaker":"mq","state":"open","changedAt":1767225600500,"breakDurationMs":60000,"opens":1,"instance":"node-1"}""");
        await Calls.Until(() => c.State == CircuitState.Open, TimeSpan.FromSeconds(3), "the open is applied");
        await db.PublishAsync(RedisChannel.Literal(keys.ChangedChannel()), """{"v":1,"breaker":"mq","state":"closed","changedAt":1767225600400,"opens":0,"instance":"python-1"}""");

        // A marker announced after the late close: once it is applied, the close has been handled too (one channel, in order).
        await db.PublishAsync(RedisChannel.Literal(keys.ChangedChannel()), """{"v":1,"breaker":"mq","state":"isolated","changedAt":1767225600600,"opens":0,"instance":"ops"}""");
        await Calls.Until(() => c.State != CircuitState.Open, TimeSpan.FromSeconds(3), "the marker is applied");
        Assert.Equal(CircuitState.Isolated, c.State);
        Assert.Equal(0, Volatile.Read(ref closes));
        Assert.IsType<IsolatedCircuitException>((await Calls.Succeed(p)).Exception);
    }

    [Trait("Redis", "own-servers")]
    [Fact]
    public async Task Calls_go_on_with_local_state_while_Redis_is_down_and_the_state_resyncs_after_restart()
    {
        RedisServerProcess server = await redis.StartOwnedServerAsync();
        string prefix = RedisFixture.NewPrefix();
        RedisBreakerStateStore storeA = Own(RedisStores.Create(await RedisFixture.ConnectAsync(server.ConnectionString), prefix, "a", TimeSpan.FromMilliseconds(100)));
        RedisBreakerStateStore storeB = Own(RedisStores.Create(await RedisFixture.ConnectAsync(server.ConnectionString), prefix, "b", TimeSpan.FromMilliseconds(100)));
        await Task.WhenAll(storeA.Subscribed, storeB.Subscribed);
        var (a, controlA) = Calls.Breaker(new LilithCircuitBreakerOptions { Name = "ledger", FailureThreshold = 3, BreakDuration = TimeSpan.FromMinutes(1), StateStore = storeA }, _time);
        var (_, controlB) = Calls.Breaker(new LilithCircuitBreakerOptions { Name = "ledger", FailureThreshold = 3, BreakDuration = TimeSpan.FromMinutes(1), StateStore = storeB }, _time);

        await server.KillAsync();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < 1000; i++)
        {
            Assert.Equal(i, (await Calls.Succeed(a, i)).Result);
        }

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"1000 closed-path calls took {clock.ElapsedMilliseconds} ms with Redis down");
        for (int i = 0; i < 3; i++)
        {
            Assert.IsType<TimeoutException>((await Calls.Fail(a)).Exception);
        }

        Assert.Equal(CircuitState.Open, controlA.State);
        Outcome<int> rejected = await Calls.Succeed(a);
        Assert.IsType<BrokenCircuitException>(rejected.Exception);

        await server.RestartAsync(Token);
        await Calls.Until(() => controlB.State == CircuitState.Open, TimeSpan.FromSeconds(15), "b learns a's open after the restart");
        string key = new BreakerKeys(prefix).State("ledger");
        await UntilOnRestartedAsync(
            server,
            async db => ((string?)await db.StringGetAsync(key))?.Contains("\"state\":\"open\"", StringComparison.Ordinal) == true,
            "the restarted Redis holds the open state again");
    }

    [Fact]
    public async Task State_written_with_raw_Redis_commands_in_the_schema_format_is_honoured()
    {
        string prefix = RedisFixture.NewPrefix();
        var keys = new BreakerKeys(prefix);
        RedisBreakerStateStore store = Own(RedisStores.Create(await redis.NewConnectionAsync(), prefix, "dotnet-1", TimeSpan.FromMilliseconds(100)));
        await store.Subscribed;
        var (p, c) = Calls.Breaker(new LilithCircuitBreakerOptions { Name = "search", StateStore = store }, _time);
        Assert.Equal(1, (await Calls.Succeed(p)).Result);

        // A Python sibling writes the state key without announcing it: the periodic resync finds it.
        IDatabase db = (await redis.ConnectionAsync()).GetDatabase();
        var time = (RedisResult[])(await db.ExecuteAsync("TIME"))!;
        long now = (long)time[0] * 1000 + (long)time[1] / 1000;
        string open = $$"""{"v":1,"breaker":"search","state":"open","changedAt":{{now}},"breakDurationMs":60000,"opens":1,"instance":"python-worker-1","extra":"ignored"}""";
        await db.ExecuteAsync("SET", keys.State("search"), open, "PX", "120000");
        await Calls.Until(() => c.State == CircuitState.Open, TimeSpan.FromSeconds(3), "the raw open state is applied");
        var rejected = Assert.IsType<BrokenCircuitException>((await Calls.Succeed(p)).Exception);
        Assert.InRange(rejected.RetryAfter!.Value, TimeSpan.FromSeconds(55), TimeSpan.FromSeconds(60));

        // Unreadable announcements are skipped; a closed state announced with PUBLISH closes the breaker.
        await db.ExecuteAsync("PUBLISH", keys.ChangedChannel(), "not json");
        await db.ExecuteAsync("PUBLISH", keys.ChangedChannel(), """{"v":2,"breaker":"search","state":"closed","changedAt":1}""");
        string closed = $$"""{"v":1,"breaker":"search","state":"closed","changedAt":{{now + 5}},"opens":0,"instance":"node-api-2"}""";
        await db.ExecuteAsync("SET", keys.State("search"), closed, "PX", "120000");
        await db.ExecuteAsync("PUBLISH", keys.ChangedChannel(), closed);
        await Calls.Until(() => c.State == CircuitState.Closed, TimeSpan.FromSeconds(3), "the raw closed state is applied");
        Assert.Equal(1, (await Calls.Succeed(p)).Result);
    }

    [Fact]
    public async Task A_local_open_is_written_in_the_schema_format_with_a_ttl()
    {
        string prefix = RedisFixture.NewPrefix();
        RedisBreakerStateStore store = Own(RedisStores.Create(await redis.NewConnectionAsync(), prefix, "dotnet-9"));
        var (p, _) = Calls.Breaker(new LilithCircuitBreakerOptions { Name = "s3", FailureThreshold = 1, BreakDuration = TimeSpan.FromSeconds(20), StateStore = store }, _time);
        await Calls.Fail(p);
        IDatabase db = (await redis.ConnectionAsync()).GetDatabase();
        string key = new BreakerKeys(prefix).State("s3");
        await Calls.UntilAsync(async () => (await db.StringGetAsync(key)).HasValue, TimeSpan.FromSeconds(3), "the state key is written");
        BreakerStateSnapshot s = BreakerStatePayload.Read((await db.StringGetAsync(key))!);
        Assert.Equal((CircuitState.Open, TimeSpan.FromSeconds(20), 1, "dotnet-9"), (s.State, s.BreakDuration, s.Opens, s.Instance));
        TimeSpan? ttl = await db.KeyTimeToLiveAsync(key);
        Assert.InRange(ttl!.Value, TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(20));
    }

    /// <summary>Waits for a condition on a restarted server, through a connection of the test's own (errors while it comes back count as false).</summary>
    private async Task UntilOnRestartedAsync(RedisServerProcess server, Func<IDatabase, Task<bool>> condition, string what)
    {
        IConnectionMultiplexer check = await RedisFixture.ConnectAsync(server.ConnectionString);
        _owned.Add(check);
        await Calls.UntilAsync(
            async () =>
            {
                try
                {
                    return await condition(check.GetDatabase());
                }
                catch (Exception e) when (e is RedisException or IOException)
                {
                    return false;
                }
            },
            TimeSpan.FromSeconds(15),
            what);
    }

    private T Own<T>(T item)
        where T : IAsyncDisposable
    {
        _owned.Add(item);
        return item;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (IAsyncDisposable d in _owned)
        {
            await d.DisposeAsync();
        }
    }
}

/// <summary>Tests that measure latency run after the others, not beside them.</summary>
[CollectionDefinition(nameof(TimingSensitive), DisableParallelization = true)]
public sealed class TimingSensitive;
