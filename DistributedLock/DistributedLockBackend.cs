namespace Lilith.DistributedLock;

/// <summary>Where the locks live.</summary>
public enum DistributedLockBackend
{
    /// <summary>In this process only (development, tests, single-instance services). Same semantics as Redis, fencing tokens included.</summary>
    InMemory,

    /// <summary>Redis (shared with every service and language that follows schema/distributed-lock.md).</summary>
    Redis,
}
