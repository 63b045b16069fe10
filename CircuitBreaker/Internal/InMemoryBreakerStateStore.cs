namespace Lilith.CircuitBreaker.Internal;

/// <summary>The shared memory of in-memory stores: what Redis is to the Redis store, for one process.</summary>
internal sealed class InMemoryBreakerStateBackend(TimeProvider timeProvider)
{
    public static InMemoryBreakerStateBackend Shared { get; } = new(TimeProvider.System);

    private readonly object _gate = new();
    private readonly Dictionary<string, BreakerStateSnapshot> _states = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string Owner, DateTimeOffset Until)> _probes = new(StringComparer.Ordinal);
    private readonly List<(string Breaker, InMemoryBreakerStateStore Store, Action<BreakerStateSnapshot> Handler)> _subscribers = [];
    private readonly Dictionary<string, Dictionary<string, long>> _trips = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<string, long>> _members = new(StringComparer.Ordinal);

    public BreakerStateSnapshot Write(BreakerStateSnapshot snapshot, bool releaseProbe, string instance)
    {
        BreakerStateSnapshot written = snapshot with { ChangedAt = timeProvider.GetUtcNow().ToUnixTimeMilliseconds(), Instance = instance };
        List<Action<BreakerStateSnapshot>> handlers;
        lock (_gate)
        {
            handlers = StoreLocked(written);
            if (releaseProbe && _probes.TryGetValue(snapshot.Breaker, out var probe) && probe.Owner == instance)
            {
                _probes.Remove(snapshot.Breaker);
            }
        }

        Announce(written, handlers);
        return written;
    }

    /// <summary>The script <c>report</c> of schema/circuit-breaker.md, on this process's memory.</summary>
    public BreakerQuorumResult Report(string breaker, string instance, BreakerReportKind kind, BreakerQuorum quorum, BreakerStateSnapshot? opening)
    {
        long now = timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        long since = now - (long)quorum.Window.TotalMilliseconds;
        BreakerQuorumResult result;
        List<Action<BreakerStateSnapshot>> handlers = [];
        BreakerStateSnapshot? written = null;
        lock (_gate)
        {
            Dictionary<string, long> members = Set(_members, breaker);
            Dictionary<string, long> trips = Set(_trips, breaker);
            members[instance] = now;
            if (kind == BreakerReportKind.Trip)
            {
                trips[instance] = now;
            }
            else if (kind == BreakerReportKind.Recover)
            {
                trips.Remove(instance);
            }

            Trim(members, since);
            Trim(trips, since);
            _states.TryGetValue(breaker, out BreakerStateSnapshot? state);
            if (state is { State: CircuitState.Closed } && state.ChangedAt > since)
            {
                since = state.ChangedAt;
            }

            int counted = trips.Values.Count(at => at > since);
            int required = BreakerQuorumRule.Required(quorum, members.Count);
            bool fleetOpen = state is not null && state.State != CircuitState.Closed;
            if (kind == BreakerReportKind.Trip && !fleetOpen && counted >= required && opening is not null)
            {
                written = opening with { Breaker = breaker, Instance = instance, ChangedAt = now };
                handlers = StoreLocked(written);
            }

            result = new BreakerQuorumResult(written is not null, counted, required, now);
        }

        if (written is not null)
        {
            Announce(written, handlers);
        }

        return result;
    }

    public bool RenewProbe(string breaker, string instance, TimeSpan lease)
    {
        DateTimeOffset now = timeProvider.GetUtcNow();
        lock (_gate)
        {
            if (_probes.TryGetValue(breaker, out var probe) && probe.Until > now && probe.Owner == instance)
            {
                _probes[breaker] = (instance, now + lease);
                return true;
            }

            return false;
        }
    }

    private static Dictionary<string, long> Set(Dictionary<string, Dictionary<string, long>> sets, string breaker)
    {
        if (!sets.TryGetValue(breaker, out Dictionary<string, long>? set))
        {
            sets[breaker] = set = new Dictionary<string, long>(StringComparer.Ordinal);
        }

        return set;
    }

    private static void Trim(Dictionary<string, long> set, long since)
    {
        foreach (KeyValuePair<string, long> entry in set.Where(e => e.Value <= since).ToList())
        {
            set.Remove(entry.Key);
        }
    }

    private List<Action<BreakerStateSnapshot>> StoreLocked(BreakerStateSnapshot written)
    {
        _states[written.Breaker] = written;
        List<Action<BreakerStateSnapshot>> handlers = [];
        foreach (var s in _subscribers)
        {
            if (s.Breaker == written.Breaker && s.Store.InstanceId != written.Instance)
            {
                handlers.Add(s.Handler);
            }
        }

        return handlers;
    }

    private static void Announce(BreakerStateSnapshot written, List<Action<BreakerStateSnapshot>> handlers)
    {
        BreakerStateSnapshot announced = written with { RetryAfter = written.BreakDuration };
        foreach (Action<BreakerStateSnapshot> handler in handlers)
        {
            handler(announced);
        }
    }

    public BreakerStateSnapshot? Read(string breaker)
    {
        lock (_gate)
        {
            if (!_states.TryGetValue(breaker, out BreakerStateSnapshot? s))
            {
                return null;
            }

            long now = timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
            long left = s.ChangedAt + (long)s.BreakDuration.TotalMilliseconds - now;
            return s with { RetryAfter = s.State == CircuitState.Open ? TimeSpan.FromMilliseconds(Math.Max(0, left)) : TimeSpan.Zero };
        }
    }

    public bool TryAcquireProbe(string breaker, string instance, TimeSpan lease)
    {
        DateTimeOffset now = timeProvider.GetUtcNow();
        lock (_gate)
        {
            if (_probes.TryGetValue(breaker, out var probe) && probe.Until > now)
            {
                return false;
            }

            _probes[breaker] = (instance, now + lease);
            return true;
        }
    }

    public IDisposable Subscribe(string breaker, InMemoryBreakerStateStore store, Action<BreakerStateSnapshot> handler)
    {
        var entry = (breaker, store, handler);
        lock (_gate)
        {
            _subscribers.Add(entry);
        }

        return new Unsubscriber(() =>
        {
            lock (_gate)
            {
                _subscribers.Remove(entry);
            }
        });
    }

    private sealed class Unsubscriber(Action dispose) : IDisposable
    {
        private Action? _dispose = dispose;

        public void Dispose() => Interlocked.Exchange(ref _dispose, null)?.Invoke();
    }
}

/// <summary>Shares breaker state between the breakers of one process (development, tests, the demo).</summary>
internal sealed class InMemoryBreakerStateStore(InMemoryBreakerStateBackend backend, string instanceId) : IBreakerStateStore
{
    public string InstanceId { get; } = instanceId;

    public event Action? Reconnected
    {
        add { }
        remove { }
    }

    public ValueTask<BreakerStateSnapshot> WriteAsync(BreakerStateSnapshot snapshot, bool releaseProbe, CancellationToken cancellationToken) =>
        new(backend.Write(snapshot, releaseProbe, InstanceId));

    public ValueTask<BreakerStateSnapshot?> ReadAsync(string breaker, CancellationToken cancellationToken) => new(backend.Read(breaker));

    public ValueTask<bool> TryAcquireProbeAsync(string breaker, TimeSpan lease, CancellationToken cancellationToken) =>
        new(backend.TryAcquireProbe(breaker, InstanceId, lease));

    public ValueTask<bool> RenewProbeAsync(string breaker, TimeSpan lease, CancellationToken cancellationToken) =>
        new(backend.RenewProbe(breaker, InstanceId, lease));

    public ValueTask<BreakerQuorumResult> ReportAsync(string breaker, BreakerReportKind kind, BreakerQuorum quorum, BreakerStateSnapshot? opening, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(quorum);
        return new(backend.Report(breaker, InstanceId, kind, quorum, opening));
    }

    public IDisposable Subscribe(string breaker, Action<BreakerStateSnapshot> onChanged) => backend.Subscribe(breaker, this, onChanged);

    public ValueTask DisposeAsync() => default;
}
