using Lilith.CircuitBreaker.Internal;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lilith.CircuitBreaker.Tests;

/// <summary>What every state store does; run against the in-memory store and against Redis.</summary>
public abstract class StateStoreContractTests
{
    /// <summary>Two instances on the same shared state (for Redis: separate connections, one fresh prefix).</summary>
    protected abstract Task<(IBreakerStateStore A, IBreakerStateStore B)> CreatePairAsync();

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_written_state_is_read_by_the_other_instance_with_its_break_and_opens()
    {
        var (a, b) = await CreatePairAsync();
        Assert.Null(await b.ReadAsync("postgres", Token));
        BreakerStateSnapshot written = await a.WriteAsync(new BreakerStateSnapshot("postgres", CircuitState.Open, TimeSpan.FromSeconds(30), 2, null, 0), false, Token);
        Assert.Equal(a.InstanceId, written.Instance);
        Assert.True(written.ChangedAt > 1_700_000_000_000, $"changedAt {written.ChangedAt} is epoch ms");

        BreakerStateSnapshot? read = await b.ReadAsync("postgres", Token);
        Assert.NotNull(read);
        Assert.Equal((CircuitState.Open, 2, a.InstanceId, TimeSpan.FromSeconds(30)), (read.State, read.Opens, read.Instance, read.BreakDuration));
        Assert.InRange(read.RetryAfter, TimeSpan.FromSeconds(25), TimeSpan.FromSeconds(30));
        Assert.Null(await b.ReadAsync("other", Token));
    }

    [Fact]
    public async Task Changes_are_announced_to_other_instances_only()
    {
        var (a, b) = await CreatePairAsync();
        List<BreakerStateSnapshot> seenByA = [], seenByB = [];
        using IDisposable subA = a.Subscribe("mysql", s => { lock (seenByA) { seenByA.Add(s); } });
        using IDisposable subB = b.Subscribe("mysql", s => { lock (seenByB) { seenByB.Add(s); } });
        await Ready(a, b);
        await a.WriteAsync(new BreakerStateSnapshot("mysql", CircuitState.Open, TimeSpan.FromSeconds(5), 1, null, 0), false, Token);
        await a.WriteAsync(new BreakerStateSnapshot("other", CircuitState.Open, TimeSpan.FromSeconds(5), 1, null, 0), false, Token);
        await Calls.Until(() => { lock (seenByB) { return seenByB.Count >= 1; } }, TimeSpan.FromSeconds(5), "b sees a's open");
        BreakerStateSnapshot s = seenByB[0];
        Assert.Equal(("mysql", CircuitState.Open, a.InstanceId, TimeSpan.FromSeconds(5)), (s.Breaker, s.State, s.Instance, s.RetryAfter));
        await b.WriteAsync(new BreakerStateSnapshot("mysql", CircuitState.Closed, TimeSpan.Zero, 0, null, 0), false, Token);
        await Calls.Until(() => { lock (seenByA) { return seenByA.Count >= 1; } }, TimeSpan.FromSeconds(5), "a sees b's close");
        Assert.Equal(CircuitState.Closed, seenByA[0].State);
        Assert.Single(seenByB);
    }

    [Fact]
    public async Task Only_one_instance_holds_the_probe_lease_until_it_writes_with_release()
    {
        var (a, b) = await CreatePairAsync();
        Assert.True(await a.TryAcquireProbeAsync("redis", TimeSpan.FromSeconds(30), Token));
        Assert.False(await b.TryAcquireProbeAsync("redis", TimeSpan.FromSeconds(30), Token));
        Assert.False(await a.TryAcquireProbeAsync("redis", TimeSpan.FromSeconds(30), Token));

        // A write by the non-holder does not free the lease; the holder's write with release does.
        await b.WriteAsync(new BreakerStateSnapshot("redis", CircuitState.Closed, TimeSpan.Zero, 0, null, 0), true, Token);
        Assert.False(await b.TryAcquireProbeAsync("redis", TimeSpan.FromSeconds(30), Token));
        await a.WriteAsync(new BreakerStateSnapshot("redis", CircuitState.Closed, TimeSpan.Zero, 0, null, 0), true, Token);
        Assert.True(await b.TryAcquireProbeAsync("redis", TimeSpan.FromSeconds(30), Token));
    }

    [Fact]
    public async Task A_probe_lease_expires()
    {
        var (a, b) = await CreatePairAsync();
        Assert.True(await a.TryAcquireProbeAsync("kafka", TimeSpan.FromMilliseconds(100), Token));
        await Calls.UntilAsync(async () => await b.TryAcquireProbeAsync("kafka", TimeSpan.FromSeconds(30), Token), TimeSpan.FromSeconds(3), "the lease expires");
    }

    [Fact]
    public async Task Only_the_holder_renews_the_probe_lease_and_a_renewed_lease_outlives_its_first_term()
    {
        var (a, b) = await CreatePairAsync();
        Assert.False(await a.RenewProbeAsync("nats", TimeSpan.FromSeconds(30), Token));
        Assert.True(await a.TryAcquireProbeAsync("nats", TimeSpan.FromMilliseconds(300), Token));
        Assert.False(await b.RenewProbeAsync("nats", TimeSpan.FromSeconds(30), Token));
        Assert.True(await a.RenewProbeAsync("nats", TimeSpan.FromSeconds(30), Token));
        await Task.Delay(TimeSpan.FromMilliseconds(600), Token); // the first term (300 ms) is over: only the renewal keeps the lease
        Assert.False(await b.TryAcquireProbeAsync("nats", TimeSpan.FromSeconds(30), Token));
    }

    [Fact]
    public async Task A_trip_opens_the_shared_state_only_when_the_quorum_of_distinct_instances_is_reached()
    {
        var (a, b) = await CreatePairAsync();
        var quorum = new BreakerQuorum(2, null, TimeSpan.FromSeconds(30));
        var opening = new BreakerStateSnapshot("pg", CircuitState.Open, TimeSpan.FromSeconds(20), 1, null, 0);
        BreakerQuorumResult first = await a.ReportAsync("pg", BreakerReportKind.Trip, quorum, opening, Token);
        Assert.Equal((false, 1, 2), (first.Opened, first.Trips, first.Required));
        BreakerQuorumResult again = await a.ReportAsync("pg", BreakerReportKind.Trip, quorum, opening, Token);
        Assert.Equal((false, 1), (again.Opened, again.Trips));
        Assert.Null(await b.ReadAsync("pg", Token));

        BreakerQuorumResult second = await b.ReportAsync("pg", BreakerReportKind.Trip, quorum, opening, Token);
        Assert.Equal((true, 2, 2), (second.Opened, second.Trips, second.Required));
        BreakerStateSnapshot? open = await a.ReadAsync("pg", Token);
        Assert.NotNull(open);
        Assert.Equal((CircuitState.Open, b.InstanceId, second.ReportedAt, TimeSpan.FromSeconds(20)), (open.State, open.Instance, open.ChangedAt, open.BreakDuration));

        // A fleet-wide close makes the earlier trips stale; a recovered instance's trip no longer counts.
        BreakerStateSnapshot closed = await a.WriteAsync(new BreakerStateSnapshot("pg", CircuitState.Closed, TimeSpan.Zero, 0, null, 0), false, Token);
        await WaitForClockAsync(a, closed.ChangedAt);
        Assert.Equal((false, 1), Pick(await a.ReportAsync("pg", BreakerReportKind.Trip, quorum, opening, Token)));
        Assert.Equal((false, 0), Pick(await a.ReportAsync("pg", BreakerReportKind.Recover, quorum, null, Token)));
        Assert.Equal((false, 1), Pick(await b.ReportAsync("pg", BreakerReportKind.Trip, quorum, opening, Token)));
        Assert.Equal(CircuitState.Closed, (await a.ReadAsync("pg", Token))!.State);
    }

    [Fact]
    public async Task A_fraction_quorum_counts_the_instances_that_reported_within_the_window()
    {
        var (a, b) = await CreatePairAsync();
        var quorum = new BreakerQuorum(1, 0.75, TimeSpan.FromSeconds(30));
        var opening = new BreakerStateSnapshot("es", CircuitState.Open, TimeSpan.FromSeconds(20), 1, null, 0);
        Assert.Equal(1, (await b.ReportAsync("es", BreakerReportKind.Alive, quorum, null, Token)).Required);
        BreakerQuorumResult alone = await a.ReportAsync("es", BreakerReportKind.Trip, quorum, opening, Token);
        Assert.Equal((false, 1, 2), (alone.Opened, alone.Trips, alone.Required)); // 3/4 of 2 live instances: 2
        BreakerQuorumResult both = await b.ReportAsync("es", BreakerReportKind.Trip, quorum, opening, Token);
        Assert.Equal((true, 2, 2), (both.Opened, both.Trips, both.Required));
    }

    [Fact]
    public async Task Trips_older_than_the_window_stop_counting()
    {
        var (a, b) = await CreatePairAsync();
        var quorum = new BreakerQuorum(2, null, TimeSpan.FromMilliseconds(200));
        var opening = new BreakerStateSnapshot("s3", CircuitState.Open, TimeSpan.FromSeconds(20), 1, null, 0);
        long first = (await a.ReportAsync("s3", BreakerReportKind.Trip, quorum, opening, Token)).ReportedAt;
        await WaitForClockAsync(b, first + 250); // the store's own clock passes the window
        BreakerQuorumResult late = await b.ReportAsync("s3", BreakerReportKind.Trip, quorum, opening, Token);
        Assert.Equal((false, 1), Pick(late));
        Assert.Null(await a.ReadAsync("s3", Token));
    }

    private static (bool Opened, int Trips) Pick(BreakerQuorumResult r) => (r.Opened, r.Trips);

    /// <summary>Reports taken in the same millisecond as a close would not count as later than it.</summary>
    private static async Task WaitForClockAsync(IBreakerStateStore store, long after)
    {
        var probe = new BreakerQuorum(int.MaxValue, null, TimeSpan.FromSeconds(30));
        while ((await store.ReportAsync("clock", BreakerReportKind.Alive, probe, null, Token)).ReportedAt <= after)
        {
            await Task.Delay(2, Token);
        }
    }

    /// <summary>Waits until both stores listen (Redis subscribes in the background).</summary>
    protected virtual Task Ready(IBreakerStateStore a, IBreakerStateStore b) => Task.CompletedTask;
}

/// <summary>The contract on the in-memory store.</summary>
public sealed class InMemoryStateStoreContractTests : StateStoreContractTests
{
    protected override Task<(IBreakerStateStore A, IBreakerStateStore B)> CreatePairAsync()
    {
        var backend = new InMemoryBreakerStateBackend(TimeProvider.System);
        return Task.FromResult<(IBreakerStateStore, IBreakerStateStore)>((new InMemoryBreakerStateStore(backend, "a"), new InMemoryBreakerStateStore(backend, "b")));
    }
}

/// <summary>The contract on Redis, two instances on separate connections.</summary>
public sealed class RedisStateStoreContractTests(RedisFixture redis) : StateStoreContractTests, IAsyncDisposable
{
    private readonly List<IBreakerStateStore> _stores = [];

    protected override async Task<(IBreakerStateStore A, IBreakerStateStore B)> CreatePairAsync()
    {
        string prefix = RedisFixture.NewPrefix();
        IBreakerStateStore a = RedisStores.Create(await redis.NewConnectionAsync(), prefix, "a");
        IBreakerStateStore b = RedisStores.Create(await redis.NewConnectionAsync(), prefix, "b");
        _stores.AddRange([a, b]);
        return (a, b);
    }

    protected override Task Ready(IBreakerStateStore a, IBreakerStateStore b) =>
        Task.WhenAll(((RedisBreakerStateStore)a).Subscribed, ((RedisBreakerStateStore)b).Subscribed);

    public async ValueTask DisposeAsync()
    {
        foreach (IBreakerStateStore s in _stores)
        {
            await s.DisposeAsync();
        }
    }
}

/// <summary>Redis stores for tests.</summary>
internal static class RedisStores
{
    public static RedisBreakerStateStore Create(StackExchange.Redis.IConnectionMultiplexer connection, string prefix, string instance, TimeSpan? syncInterval = null) =>
        new(connection, prefix, instance, syncInterval ?? TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5), TimeProvider.System, NullLoggerFactory.Instance);
}
