using System.Collections.Concurrent;

namespace Lilith.ServiceDiscovery.Internal;

/// <summary>
/// The schema's data model in process memory, shared by every client of the process with the same key prefix
/// (as clients of one Redis share it). Same payload strings, same compare-and-set rules, same events.
/// </summary>
internal sealed class InMemoryDiscoveryBackend(string prefix, TimeProvider time) : IDiscoveryBackend
{
    private static readonly ConcurrentDictionary<string, Store> Stores = new(StringComparer.Ordinal);
    private readonly Store _store = Stores.GetOrAdd(prefix, _ => new Store());
    private Action<string, string>? _onEvent;

    public string Description => $"in-memory (prefix '{prefix}')";

    public bool IsReachable => true;

    private long Now => time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Writes a raw entry as another writer would (tests of malformed data).</summary>
    internal static void WriteRaw(string prefix, string service, string id, string json, long expiresAtMs)
    {
        Store store = Stores.GetOrAdd(prefix, _ => new Store());
        lock (store)
        {
            Service s = store.Get(service);
            s.Instances[id] = json;
            s.Expiry[id] = expiresAtMs;
        }
    }

    public Task<(int Status, string? Current)> RegisterAsync(string service, string id, string expectedJson, string newJson,
        IReadOnlyList<(string Dimension, string Value)> oldIndex, IReadOnlyList<(string Dimension, string Value)> newIndex, long ttlMs, CancellationToken cancellationToken)
    {
        string? publish;
        lock (_store)
        {
            Service s = _store.Get(service);
            string current = s.Instances.GetValueOrDefault(id) ?? string.Empty;
            if (current != expectedJson)
            {
                return Task.FromResult((-1, (string?)current));
            }

            long now = Now;
            bool live = current.Length > 0 && s.Expiry.TryGetValue(id, out long expiry) && expiry > now;
            s.Expiry[id] = now + ttlMs;
            if (live && current == newJson)
            {
                return Task.FromResult((0, (string?)null));
            }

            s.Instances[id] = newJson;
            publish = EventCodec.Write(DiscoveryEventKind.Registered, service, id, ++s.Revision, now, newJson);
        }

        _store.Publish(service, publish);
        return Task.FromResult((1, (string?)null));
    }

    public Task<bool> HeartbeatAsync(string service, string id, long ttlMs, CancellationToken cancellationToken)
    {
        lock (_store)
        {
            Service s = _store.Get(service);
            long now = Now;
            if (!s.Instances.ContainsKey(id) || !s.Expiry.TryGetValue(id, out long expiry) || expiry <= now)
            {
                return Task.FromResult(false);
            }

            s.Expiry[id] = now + ttlMs;
            return Task.FromResult(true);
        }
    }

    public Task<int> RemoveAsync(string service, string id, string expectedJson, IReadOnlyList<(string Dimension, string Value)> index, bool expired, CancellationToken cancellationToken)
    {
        string publish;
        lock (_store)
        {
            Service s = _store.Get(service);
            if (!s.Instances.TryGetValue(id, out string? current))
            {
                s.Expiry.Remove(id);
                return Task.FromResult(0);
            }

            if (current != expectedJson)
            {
                return Task.FromResult(-1);
            }

            long now = Now;
            if (expired && s.Expiry.TryGetValue(id, out long expiry) && expiry > now)
            {
                return Task.FromResult(0);
            }

            s.Instances.Remove(id);
            s.Expiry.Remove(id);
            publish = EventCodec.Write(expired ? DiscoveryEventKind.Expired : DiscoveryEventKind.Deregistered, service, id, ++s.Revision, now, null);
        }

        _store.Publish(service, publish);
        return Task.FromResult(1);
    }

    public Task<(int Status, string? Json)> SetHealthAsync(string service, string id, InstanceHealth health, CancellationToken cancellationToken)
    {
        string publish;
        string updated;
        lock (_store)
        {
            Service s = _store.Get(service);
            if (!s.Instances.TryGetValue(id, out string? current))
            {
                return Task.FromResult((0, (string?)null));
            }

            if (InstanceCodec.WithHealth(current, health) is not { } changed)
            {
                return Task.FromResult((-2, (string?)null));
            }

            if (changed == current)
            {
                return Task.FromResult((2, (string?)current));
            }

            s.Instances[id] = updated = changed;
            publish = EventCodec.Write(DiscoveryEventKind.HealthChanged, service, id, ++s.Revision, Now, updated);
        }

        _store.Publish(service, publish);
        return Task.FromResult((1, (string?)updated));
    }

    public Task<string?> GetAsync(string service, string id, CancellationToken cancellationToken)
    {
        lock (_store)
        {
            return Task.FromResult(_store.Get(service).Instances.GetValueOrDefault(id));
        }
    }

    public Task<LoadReply> LoadAsync(string service, CancellationToken cancellationToken)
    {
        lock (_store)
        {
            Service s = _store.Get(service);
            long now = Now;
            var entries = s.Expiry.Where(e => e.Value > now && s.Instances.ContainsKey(e.Key))
                .OrderBy(e => e.Value).ThenBy(e => e.Key, StringComparer.Ordinal)
                .Select(e => new KeyValuePair<string, string>(e.Key, s.Instances[e.Key])).ToList();
            return Task.FromResult(new LoadReply(s.Revision, entries));
        }
    }

    public Task<IReadOnlyList<KeyValuePair<string, string>>> ExpiredAsync(string service, int limit, CancellationToken cancellationToken)
    {
        lock (_store)
        {
            Service s = _store.Get(service);
            long now = Now;
            IReadOnlyList<KeyValuePair<string, string>> list = s.Expiry.Where(e => e.Value <= now).Take(limit)
                .Select(e => new KeyValuePair<string, string>(e.Key, s.Instances.GetValueOrDefault(e.Key) ?? string.Empty)).ToList();
            return Task.FromResult(list);
        }
    }

    public Task<IReadOnlyList<(string Name, double Score)>> ServicesAsync(long start, int count, CancellationToken cancellationToken)
    {
        lock (_store)
        {
            IReadOnlyList<(string, double)> page = _store.Index.OrderBy(s => s.Value).ThenBy(s => s.Key, StringComparer.Ordinal)
                .Skip((int)start).Take(count).Select(s => (s.Key, (double)s.Value)).ToList();
            return Task.FromResult(page);
        }
    }

    public Task<bool> TrySweepLeaseAsync(string token, long leaseMs, CancellationToken cancellationToken)
    {
        lock (_store)
        {
            long now = Now;
            if (_store.SweeperToken is not null && _store.SweeperToken != token && _store.SweeperUntil > now)
            {
                return Task.FromResult(false);
            }

            (_store.SweeperToken, _store.SweeperUntil) = leaseMs == 0 ? (null, 0) : (token, now + leaseMs);
            return Task.FromResult(leaseMs != 0);
        }
    }

    public Task<long> CountAsync(string service, CancellationToken cancellationToken)
    {
        lock (_store)
        {
            return Task.FromResult(_store.Services.TryGetValue(service, out Service? s) ? (long)s.Instances.Count : 0);
        }
    }

    public Task<bool> PruneServiceAsync(string service, double score, CancellationToken cancellationToken)
    {
        lock (_store)
        {
            return Task.FromResult(_store.Index.TryGetValue(service, out long touched) && touched == (long)score && _store.Index.Remove(service));
        }
    }

    public Task TouchServiceAsync(string service, CancellationToken cancellationToken)
    {
        lock (_store)
        {
            _store.Index[service] = Now;
        }

        return Task.CompletedTask;
    }

    public Task SubscribeAsync(Action<string, string> onEvent, Action onReconnected, CancellationToken cancellationToken)
    {
        _onEvent = onEvent;
        _store.Subscribers.TryAdd(onEvent, 0);
        return Task.CompletedTask;
    }

    /// <summary>Every event of the prefix reaches every client of the process; nothing to subscribe to.</summary>
    public Task SubscribeServiceAsync(string? service, CancellationToken cancellationToken) => Task.CompletedTask;

    public ValueTask DisposeAsync()
    {
        if (_onEvent is not null)
        {
            _store.Subscribers.TryRemove(_onEvent, out _);
        }

        return default;
    }

    private sealed class Service
    {
        public Dictionary<string, string> Instances { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, long> Expiry { get; } = new(StringComparer.Ordinal);

        public long Revision { get; set; }
    }

    private sealed class Store
    {
        public Dictionary<string, Service> Services { get; } = new(StringComparer.Ordinal);

        public ConcurrentDictionary<Action<string, string>, byte> Subscribers { get; } = new();

        /// <summary>The services index: name -> when a registration last touched it (ms).</summary>
        public Dictionary<string, long> Index { get; } = new(StringComparer.Ordinal);

        public string? SweeperToken { get; set; }

        public long SweeperUntil { get; set; }

        public Service Get(string service)
        {
            if (!Services.TryGetValue(service, out Service? s))
            {
                Services[service] = s = new Service();
            }

            return s;
        }

        public void Publish(string service, string json)
        {
            foreach (Action<string, string> subscriber in Subscribers.Keys)
            {
                subscriber(service, json);
            }
        }
    }
}
