using Lilith.CircuitBreaker.Internal;
using Microsoft.Extensions.Time.Testing;
using Polly;
using Polly.CircuitBreaker;

namespace Lilith.CircuitBreaker.Tests;

/// <summary>How a breaker applies the fleet's states: order, and the one prober's lease, on a fake clock.</summary>
public sealed class FleetStateTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public async Task A_late_older_closed_does_not_undo_a_newer_open()
    {
        var store = new DeliveringStore();
        var (p, c) = Calls.Breaker(new LilithCircuitBreakerOptions { Name = "orders", StateStore = store }, _time);
        store.Deliver(new BreakerStateSnapshot("orders", CircuitState.Open, TimeSpan.FromSeconds(30), 1, "node-1", 2_000) { RetryAfter = TimeSpan.FromSeconds(30) });
        Assert.Equal(CircuitState.Open, c.State);

        // The close written before that open arrives late (a resync read racing the announcement).
        store.Deliver(new BreakerStateSnapshot("orders", CircuitState.Closed, TimeSpan.Zero, 0, "python-1", 1_000));
        Assert.Equal(CircuitState.Open, c.State);
        Assert.IsType<BrokenCircuitException>((await Calls.Succeed(p)).Exception);

        // Same millisecond, another writer: the more cautious state wins; a newer close applies.
        store.Deliver(new BreakerStateSnapshot("orders", CircuitState.Closed, TimeSpan.Zero, 0, "zz-node", 2_000));
        Assert.Equal(CircuitState.Open, c.State);
        store.Deliver(new BreakerStateSnapshot("orders", CircuitState.Closed, TimeSpan.Zero, 0, "python-1", 2_001));
        Assert.Equal(CircuitState.Closed, c.State);
    }

    [Fact]
    public async Task A_state_older_than_this_instances_own_write_is_not_applied()
    {
        var store = new DeliveringStore { NextChangedAt = 5_000 };
        var (p, c) = Calls.Breaker(new LilithCircuitBreakerOptions { Name = "orders", FailureThreshold = 1, StateStore = store }, _time);
        await Calls.Fail(p);
        Assert.Equal(CircuitState.Open, c.State);
        await Calls.Until(() => store.Writes == 1, TimeSpan.FromSeconds(5), "the open is written");
        store.Deliver(new BreakerStateSnapshot("orders", CircuitState.Closed, TimeSpan.Zero, 0, "python-1", 4_999));
        Assert.Equal(CircuitState.Open, c.State);
    }

    [Fact]
    public async Task The_prober_renews_its_lease_so_a_half_open_phase_longer_than_the_lease_gets_no_second_prober()
    {
        var backend = new InMemoryBreakerStateBackend(_time);
        LilithCircuitBreakerOptions Options(string instance) => new()
        {
            Name = "search", FailureThreshold = 1, BreakDuration = TimeSpan.FromSeconds(10), ProbeLease = TimeSpan.FromSeconds(3),
            StateStore = new InMemoryBreakerStateStore(backend, instance),
        };
        var (a, controlA) = Calls.Breaker(Options("a"), _time);
        var (b, controlB) = Calls.Breaker(Options("b"), _time);
        await Calls.Fail(a);
        Assert.Equal(CircuitState.Open, controlB.State);

        _time.Advance(TimeSpan.FromSeconds(11));
        var gate = new TaskCompletionSource<Outcome<int>>(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<Outcome<int>> probe = Calls.Run(a, () => new ValueTask<Outcome<int>>(gate.Task)).AsTask();
        Assert.Equal(CircuitState.HalfOpen, controlA.State);

        // The probe runs for three leases; b keeps asking for the lease, and must never get it.
        int ranOnB = 0;
        for (int second = 0; second < 9; second++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            Outcome<int> onB = await Calls.Run(b, () => { ranOnB++; return Outcome.FromResultAsValueTask(1); });
            Assert.IsType<BrokenCircuitException>(onB.Exception);
        }

        Assert.Equal(0, ranOnB);
        Assert.NotEqual(CircuitState.HalfOpen, controlB.State);
        gate.SetResult(Outcome.FromResult(1));
        await probe;
        Assert.Equal(CircuitState.Closed, controlA.State);
        Assert.Equal(CircuitState.Closed, controlB.State);
    }

    /// <summary>A store that hands the breaker whatever state the test delivers, in the order delivered.</summary>
    private sealed class DeliveringStore : IBreakerStateStore
    {
        private Action<BreakerStateSnapshot>? _handler;
        private int _writes;

        public string InstanceId => "dotnet-1";

        public long NextChangedAt { get; init; } = 1;

        public int Writes => Volatile.Read(ref _writes);

        public event Action? Reconnected
        {
            add { }
            remove { }
        }

        public void Deliver(BreakerStateSnapshot s) => _handler!(s);

        public ValueTask<BreakerStateSnapshot> WriteAsync(BreakerStateSnapshot snapshot, bool releaseProbe, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _writes);
            return new(snapshot with { Instance = InstanceId, ChangedAt = NextChangedAt });
        }

        public ValueTask<BreakerStateSnapshot?> ReadAsync(string breaker, CancellationToken cancellationToken) => new((BreakerStateSnapshot?)null);

        public ValueTask<bool> TryAcquireProbeAsync(string breaker, TimeSpan lease, CancellationToken cancellationToken) => new(true);

        public ValueTask<bool> RenewProbeAsync(string breaker, TimeSpan lease, CancellationToken cancellationToken) => new(true);

        public ValueTask<BreakerQuorumResult> ReportAsync(string breaker, BreakerReportKind kind, BreakerQuorum quorum, BreakerStateSnapshot? opening, CancellationToken cancellationToken) =>
            new(new BreakerQuorumResult(false, 0, quorum.Instances, 0));

        public IDisposable Subscribe(string breaker, Action<BreakerStateSnapshot> onChanged)
        {
            _handler = onChanged;
            return new Nothing();
        }

        public ValueTask DisposeAsync() => default;

        private sealed class Nothing : IDisposable
        {
            public void Dispose()
            {
            }
        }
    }
}
