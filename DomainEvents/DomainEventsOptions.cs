using System.Text.Json;

namespace Lilith.DomainEvents;

/// <summary>Where published events travel.</summary>
public enum DomainEventTransport
{
    /// <summary>In this process only (development, tests, single-process services).</summary>
    InMemory,

    /// <summary>Redis Streams, shared with every service of the fleet in any language.</summary>
    Redis,
}

/// <summary>How the handlers of one event run.</summary>
public enum DispatchStrategy
{
    /// <summary>One after the other, in registration order.</summary>
    Sequential,

    /// <summary>All at once.</summary>
    Parallel,
}

/// <summary>Options of Lilith.DomainEvents, validated when the host starts.</summary>
public sealed class DomainEventsOptions
{
    /// <summary>
    /// The transport. Null (the default): Redis when <see cref="ConnectionString"/> is set or an
    /// <c>IConnectionMultiplexer</c> is registered, else the in-memory transport (events reach this process only; the
    /// choice is logged at start). Set it to pin one.
    /// </summary>
    public DomainEventTransport? Transport { get; set; }

    /// <summary>Redis connection string (StackExchange.Redis form or <c>redis://</c> URL); null to use the registered <c>IConnectionMultiplexer</c>.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Key prefix of every Redis key (schema/README.md). Default <c>lilith</c>.</summary>
    public string KeyPrefix { get; set; } = "lilith";

    /// <summary>
    /// This service's name: the consumer group on every stream it subscribes to, and the default <see cref="Source"/>.
    /// Required when this service consumes from Redis (handlers or subscriptions registered): two services sharing one
    /// group would split each other's events, so the host's start fails when it is missing.
    /// </summary>
    public string? ServiceName { get; set; }

    /// <summary>
    /// This process's consumer name inside the group. Default (null): <c>&lt;ServiceName&gt;-&lt;host&gt;-&lt;ordinal&gt;</c>,
    /// the ordinal being the lowest one no other live process of the service on this host holds (an operating-system
    /// file lock, released when the process ends), so a restarted process takes its old name and drains its own
    /// pending entries at once.
    /// </summary>
    public string? ConsumerName { get; set; }

    /// <summary>Consumers of the group that hold no pending entry and were idle this long are deleted from the group. Default 1 h.</summary>
    public TimeSpan ConsumerIdleTimeout { get; set; } = TimeSpan.FromHours(1);

    /// <summary>The CloudEvents <c>source</c> of published events (a URI-reference). Default <c>/</c> + <see cref="ServiceName"/>.</summary>
    public string? Source { get; set; }

    /// <summary>The stream events are published on by default. Default <c>domain-events</c>.</summary>
    public string Stream { get; set; } = "domain-events";

    /// <summary>Streams this service consumes; when empty and handlers are registered, <see cref="Stream"/>.</summary>
    public IList<string> Subscriptions { get; } = [];

    /// <summary>Whether the hosted consumer runs (when handlers are registered). Default true.</summary>
    public bool ConsumeStreams { get; set; } = true;

    /// <summary>How the handlers of one event run. Default <see cref="DispatchStrategy.Sequential"/>.</summary>
    public DispatchStrategy DispatchStrategy { get; set; } = DispatchStrategy.Sequential;

    /// <summary>
    /// Length above which a stream is trimmed of the entries every consumer group has acknowledged (<c>XTRIM MINID</c> at
    /// the oldest entry some group still has pending or has not read). Never removes an entry a group still needs, so a
    /// stream may stay longer while a group is behind. Default 1,000,000.
    /// </summary>
    public int MaxStreamLength { get; set; } = 1_000_000;

    /// <summary>
    /// A hard cap, off (null) by default: when set and a stream is still longer than this after the safe trim, its
    /// oldest entries are removed although some group has not acknowledged them. Each such trim logs a Warning with the
    /// count and the dropped id range and adds the count to <c>lilith.domain_events.dropped_unread</c>. At least
    /// <see cref="MaxStreamLength"/>.
    /// </summary>
    public int? HardMaxStreamLength { get; set; }

    /// <summary>How often, at most, a publisher trims a stream it publishes on (zero: after every publish). Default 1 s.</summary>
    public TimeSpan RetentionInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Approximate maximum length of a dead-letter stream. Default 100,000.</summary>
    public int MaxDeadLetterLength { get; set; } = 100_000;

    /// <summary>Entries handled at the same time by this consumer. Default 8.</summary>
    public int Concurrency { get; set; } = 8;

    /// <summary>Entries read per <c>XREADGROUP</c>. Default 64.</summary>
    public int BatchSize { get; set; } = 64;

    /// <summary>Handler attempts per entry in total (a redelivery after a crash counts as one) before it goes to the dead-letter stream. Default 5.</summary>
    public int MaxAttempts { get; set; } = 5;

    /// <summary>Delay before the first retry; doubled for each further attempt, capped at 30 s. Default 100 ms.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// An entry pending this long (its consumer died or hangs) is claimed with <c>XAUTOCLAIM</c>. A live consumer restarts
    /// the idle time of the entries its handlers run (or retry) every third of it, so a slow handler or a long retry
    /// backoff is not claimed by another consumer. At least 100 ms. Default 30 s.
    /// </summary>
    public TimeSpan ClaimIdleTime { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the consumer looks for stale pending entries. Default 5 s.</summary>
    public TimeSpan ClaimInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long one read waits for new entries: on Redis an <c>XREADGROUP ... BLOCK</c> on a connection of the
    /// consumer's own (one per subscribed stream), which returns as soon as an entry is added by any writer. The loop
    /// comes round at least this often (to claim stale entries). Default 1 s.
    /// </summary>
    public TimeSpan ReadBlockTime { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The safety net while the consumer's blocking connection is not connected (Redis restarting, or a configuration
    /// that cannot be reopened): pause between non-blocking reads on the shared connection. Default 5 ms.
    /// </summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(5);

    /// <summary>How long an event handled by this group is remembered (by source and id) and skipped if delivered again; null turns the check off. Default 24 h.</summary>
    public TimeSpan? IdempotencyWindow { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Publish attempts before <see cref="DomainEventPublishException"/>. Default 3.</summary>
    public int PublishAttempts { get; set; } = 3;

    /// <summary>Delay between publish attempts (doubled each time). Default 100 ms.</summary>
    public TimeSpan PublishRetryDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// How many replicas must confirm each publish (Redis <c>WAIT</c>) before it counts as done; 0 (default) counts the
    /// master's reply. With Sentinel or replicas, 1 or more closes the failover window in which a master that is being
    /// replaced still acknowledges entries that its resync then drops: such a publish is refused and retried instead.
    /// </summary>
    public int ReplicaAcknowledgements { get; set; }

    /// <summary>How long a publish waits for <see cref="ReplicaAcknowledgements"/> before it counts as failed. Default 1 s.</summary>
    public TimeSpan ReplicaAcknowledgementTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Serializer options for event data; null for camelCase web defaults.</summary>
    public JsonSerializerOptions? DataSerializerOptions { get; set; }
}
