namespace Lilith.DistributedLock;

/// <summary>Options of <c>AddDistributedLock</c>; validated when the host starts.</summary>
public sealed class DistributedLockOptions
{
    /// <summary>Where the locks live; <see cref="DistributedLockBackend.InMemory"/> unless set.</summary>
    public DistributedLockBackend Backend { get; set; } = DistributedLockBackend.InMemory;

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
}
