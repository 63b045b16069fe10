namespace Lilith.DistributedLock;

/// <summary>Lease and renewal of one acquisition; unset members take the provider's defaults.</summary>
public sealed class LockAcquireOptions
{
    /// <summary>The lease (TTL) of the lock; null takes <see cref="DistributedLockOptions.DefaultTtl"/>.</summary>
    public TimeSpan? Ttl { get; set; }

    /// <summary>
    /// Whether the handle renews its lease in the background every third of the TTL (at most a twelfth of the TTL
    /// later: one timer per provider drives all renewals) until it is released; null takes <see cref="DistributedLockOptions.AutoRenew"/>.
    /// </summary>
    public bool? AutoRenew { get; set; }
}
