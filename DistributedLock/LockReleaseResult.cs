namespace Lilith.DistributedLock;

/// <summary>What a release found.</summary>
public enum LockReleaseResult
{
    /// <summary>This holder held the lock and it is now free.</summary>
    Released,

    /// <summary>
    /// This holder no longer held the lock (its lease had ended, or it was deleted, and maybe another holder
    /// has it now); nothing was deleted.
    /// </summary>
    NotHeld,
}
