namespace Lilith.DistributedLock;

/// <summary>Options of <c>AddDistributedLock</c>; validated when the host starts.</summary>
public sealed class DistributedLockOptions
{
    /// <summary>
    /// Where the locks live. Null (the default): Redis when <see cref="ConnectionString"/> is set or an
    /// <c>IConnectionMultiplexer</c> is registered; with neither, the host fails at start and says how to choose.
    /// <see cref="DistributedLockBackend.InMemory"/> only when named: such a lock excludes nobody outside this process.
    /// </summary>
    public DistributedLockBackend? Backend { get; set; }

    /// <summary>
    /// Redis connection string (<c>host:port,password=...</c> or <c>redis://user:password@host:port/db</c>) for the
    /// Redis backend; when null, the <c>IConnectionMultiplexer</c> registered in DI is used.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>Prefix of every key and channel (schema/README.md); default <c>lilith</c>.</summary>
    public string KeyPrefix { get; set; } = "lilith";

    /// <summary>Lease of a lock when the caller gives none; default 30 s.</summary>
    public TimeSpan DefaultTtl { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Whether handles renew their lease every third of the TTL (at most a twelfth of the TTL later) until released; default true.</summary>
    public bool AutoRenew { get; set; } = true;

    /// <summary>
    /// Longest pause between two tries of a waiter that hears no release notification (the fallback poll);
    /// default 500 ms. Waiters also try again as soon as the holder's remaining lease runs out.
    /// </summary>
    public TimeSpan MaxPollInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// How many replicas must confirm each grant and each renewal (Redis <c>WAIT</c> on the master that took it) before it
    /// counts; 0 (default) counts the master's reply. With 1 or more, a grant is handed out, and a lease extended in the
    /// holder's view, only once that many replicas hold it, so a replica among them that is promoted refuses other
    /// acquirers until the lease ends. A grant that is not confirmed in time is released and the acquire tries again
    /// until its timeout; a renewal that is not confirmed counts as not answered.
    /// </summary>
    public int ReplicaAcknowledgements { get; set; }

    /// <summary>How long a grant or renewal waits for <see cref="ReplicaAcknowledgements"/>. Default 1 s.</summary>
    public TimeSpan ReplicaAcknowledgementTimeout { get; set; } = TimeSpan.FromSeconds(1);
}
