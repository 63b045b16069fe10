namespace Lilith.CircuitBreaker.Internal;

/// <summary>The shared memory of in-memory stores: what Redis is to the Redis store, for one process.</summary>
internal sealed class InMemoryBreakerStateBackend(TimeProvider timeProvider)
{
    public static InMemoryBreakerStateBackend Shared { get; } = new(TimeProvider.System);

    private readonly object _gate = new();
    private readonly Dictionary<string, BreakerStateSnapshot> _states = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string Owner, DateTimeOffset Until)> _probes = new(StringComparer.Ordinal);
    private readonly List<(string Breaker, InMemoryBreakerStateStore Store, Action<BreakerStateSnapshot> Handler)> _subscribers = [];

    public BreakerStateSnapshot Write(BreakerStateSnapshot snapshot, bool releaseProbe, string instance)
    {
        BreakerStateSnapshot written = snapshot with { ChangedAt = timeProvider.GetUtcNow().ToUnixTimeMilliseconds(), Instance = instance };
        List<Action<BreakerStateSnapshot>> handlers = [];
        lock (_gate)
        {
            _states[snapshot.Breaker] = written;
            if (releaseProbe && _probes.TryGetValue(snapshot.Breaker, out var probe) && probe.Owner == instance)
            {
                _probes.Remove(snapshot.Breaker);
            }

            foreach (var s in _subscribers)
            {
                if (s.Breaker == snapshot.Breaker && s.Store.InstanceId != instance)
                {
                    handlers.Add(s.Handler);
                }
            }
        }

        BreakerStateSnapshot announced = written with { RetryAfter = written.BreakDuration };
        foreach (Action<BreakerStateSnapshot> handler in handlers)
        {
            handler(announced);
        }

        return written;
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

    public IDisposable Subscribe(string breaker, Action<BreakerStateSnapshot> onChanged) => backend.Subscribe(breaker, this, onChanged);

    public ValueTask DisposeAsync() => default;
}
