namespace Lilith.ServiceDiscovery.Internal;

/// <summary>What a full load of one service returned: its revision and its live (unexpired) entries, raw.</summary>
internal sealed record LoadReply(long Revision, IReadOnlyList<KeyValuePair<string, string>> Entries);

/// <summary>
/// The storage operations of the schema, on raw payload strings, so the Redis and in-memory backends share every
/// rule above them (compare-and-set, parsing, caching). Each operation is one script on Redis.
/// </summary>
internal interface IDiscoveryBackend : IAsyncDisposable
{
    /// <summary>Where the data lives, for logs.</summary>
    string Description { get; }

    /// <summary>Register: -1 when the stored JSON is not <paramref name="expectedJson"/> (then <c>Current</c> holds it), 0 when unchanged (TTL renewed), 1 when written.</summary>
    Task<(int Status, string? Current)> RegisterAsync(string service, string id, string expectedJson, string newJson,
        IReadOnlyList<(string Dimension, string Value)> oldIndex, IReadOnlyList<(string Dimension, string Value)> newIndex, long ttlMs, CancellationToken cancellationToken);

    /// <summary>Renews the TTL; false when the instance is not registered.</summary>
    Task<bool> HeartbeatAsync(string service, string id, long ttlMs, CancellationToken cancellationToken);

    /// <summary>Removes: -1 when the stored JSON is not <paramref name="expectedJson"/>, 0 when gone (or renewed, for expiry), 1 when removed.</summary>
    Task<int> RemoveAsync(string service, string id, string expectedJson, IReadOnlyList<(string Dimension, string Value)> index, bool expired, CancellationToken cancellationToken);

    /// <summary>
    /// Changes only the stored entry's <c>health</c> member, keeping every other byte: 0 when not registered, 1 when written,
    /// 2 when unchanged, -2 when the stored value is not a JSON object; <c>Json</c> is the stored JSON afterwards.
    /// </summary>
    Task<(int Status, string? Json)> SetHealthAsync(string service, string id, InstanceHealth health, CancellationToken cancellationToken);

    /// <summary>The stored JSON of one instance, or null.</summary>
    Task<string?> GetAsync(string service, string id, CancellationToken cancellationToken);

    /// <summary>Revision and live entries of a service.</summary>
    Task<LoadReply> LoadAsync(string service, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="limit"/> expired entries (id, JSON or empty when only the expiry entry exists).</summary>
    Task<IReadOnlyList<KeyValuePair<string, string>>> ExpiredAsync(string service, int limit, CancellationToken cancellationToken);

    /// <summary>One page of the known services (name, score = last registration), by rank from <paramref name="start"/>.</summary>
    Task<IReadOnlyList<(string Name, double Score)>> ServicesAsync(long start, int count, CancellationToken cancellationToken);

    /// <summary>Takes or renews the prefix's sweeper lease for <paramref name="token"/>; false when another client holds it.</summary>
    Task<bool> TrySweepLeaseAsync(string token, long leaseMs, CancellationToken cancellationToken);

    /// <summary>How many entries the service's instances hash holds (live or not).</summary>
    Task<long> CountAsync(string service, CancellationToken cancellationToken);

    /// <summary>Removes the service from the services index when its score is still <paramref name="score"/>.</summary>
    Task<bool> PruneServiceAsync(string service, double score, CancellationToken cancellationToken);

    /// <summary>Records the service in the services index (untagged key, its own command).</summary>
    Task TouchServiceAsync(string service, CancellationToken cancellationToken);

    /// <summary>Sets where raw event payloads (service, JSON) and reconnect notices go; subscribes to nothing yet.</summary>
    Task SubscribeAsync(Action<string, string> onEvent, Action onReconnected, CancellationToken cancellationToken);

    /// <summary>
    /// Subscribes to the events of one service, or of every service when <paramref name="service"/> is null (a pattern);
    /// completes when the subscription stands. Idempotent; a failed attempt is retried by the next call.
    /// </summary>
    Task SubscribeServiceAsync(string? service, CancellationToken cancellationToken);

    /// <summary>False while the backend is known to be unreachable.</summary>
    bool IsReachable { get; }
}
