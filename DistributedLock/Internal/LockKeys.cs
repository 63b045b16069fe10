using Lilith.Common;

namespace Lilith.DistributedLock.Internal;

/// <summary>Keys and channels of the distributed-lock concern (schema/distributed-lock.md).</summary>
internal sealed class LockKeys(string prefix)
{
    public const string LockConcern = "lock";
    public const string SemaphoreConcern = "semaphore";
    public const string ReaderWriterConcern = "rwlock";

    /// <summary>String: the holder's token, with a TTL.</summary>
    public string Lock(string name) => KeySchema.Tagged(prefix, LockConcern, name);

    /// <summary>String counter: the last fencing token issued for the lock (never expires).</summary>
    public string Fence(string name) => KeySchema.Tagged(prefix, LockConcern, name, "fence");

    /// <summary>Pub/sub channel on which a release is announced to waiters.</summary>
    public string ReleasedChannel(string name) => KeySchema.Tagged(prefix, LockConcern, name, "released");

    /// <summary>Sorted set: holder token -> lease expiry (ms, Redis server clock).</summary>
    public string SemaphoreHolders(string name) => KeySchema.Tagged(prefix, SemaphoreConcern, name, "holders");

    /// <summary>String counter: fencing tokens of the semaphore.</summary>
    public string SemaphoreFence(string name) => KeySchema.Tagged(prefix, SemaphoreConcern, name, "fence");

    /// <summary>Pub/sub channel on which a semaphore release is announced.</summary>
    public string SemaphoreReleasedChannel(string name) => KeySchema.Tagged(prefix, SemaphoreConcern, name, "released");

    /// <summary>Sorted set: reader token -> lease expiry (ms, Redis server clock).</summary>
    public string Readers(string name) => KeySchema.Tagged(prefix, ReaderWriterConcern, name, "readers");

    /// <summary>String: the writer's token, with a TTL.</summary>
    public string Writer(string name) => KeySchema.Tagged(prefix, ReaderWriterConcern, name, "writer");

    /// <summary>String: a waiting writer's token, with a short TTL; blocks new readers so writers are not starved.</summary>
    public string WriterIntent(string name) => KeySchema.Tagged(prefix, ReaderWriterConcern, name, "writer-intent");

    /// <summary>String counter: fencing tokens of the reader-writer lock.</summary>
    public string ReaderWriterFence(string name) => KeySchema.Tagged(prefix, ReaderWriterConcern, name, "fence");

    /// <summary>Pub/sub channel on which a reader-writer release is announced.</summary>
    public string ReaderWriterReleasedChannel(string name) => KeySchema.Tagged(prefix, ReaderWriterConcern, name, "released");
}
