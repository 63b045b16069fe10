namespace Lilith.DistributedLock.Internal;

/// <summary>Fixed values of the package.</summary>
internal static class DistributedLockDefaults
{
    /// <summary>The package name, used for the Meter, the ActivitySource and error messages.</summary>
    public const string PackageName = "Lilith.DistributedLock";

    /// <summary>Shortest lease accepted (Redis PX has millisecond resolution; renewal needs some room).</summary>
    public static readonly TimeSpan MinTtl = TimeSpan.FromMilliseconds(30);

    /// <summary>Longest lease accepted.</summary>
    public static readonly TimeSpan MaxTtl = TimeSpan.FromDays(1);

    /// <summary>First pause of a waiter's fallback poll; it doubles up to the configured maximum.</summary>
    public static readonly TimeSpan FirstPollInterval = TimeSpan.FromMilliseconds(10);

    /// <summary>Pause between renewal tries while the backend cannot be reached.</summary>
    public static readonly TimeSpan RenewalRetryInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// How long past its timeout an acquire still waits for an answer from Redis: a try sent as the timeout ends gets
    /// its answer, and a server that does not answer (down, refusing the password) cannot stretch the wait further.
    /// </summary>
    public static readonly TimeSpan AnswerGrace = TimeSpan.FromSeconds(1);

    /// <summary>Longest wait for a giving-up writer's intent to be withdrawn (it expires by itself anyway).</summary>
    public static readonly TimeSpan WithdrawTimeout = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a waiting writer's intent lasts unless its next try refreshes it: three of the longest pauses between
    /// tries, at least 1 s, so it does not lapse while the writer waits and a writer that died blocks readers only briefly.
    /// </summary>
    public static TimeSpan IntentLease(TimeSpan maxPollInterval) =>
        maxPollInterval * 3 > TimeSpan.FromSeconds(1) ? maxPollInterval * 3 : TimeSpan.FromSeconds(1);

    /// <summary>
    /// How much earlier than Redis a holder considers its lease ended: a twentieth of the lease, for clock drift between
    /// the client and Redis and for a timer that fires late on a loaded machine. The lost signal fires at
    /// (last successful renewal sent) + lease - this, so it comes before Redis can expire the key.
    /// </summary>
    public static TimeSpan SafetyMargin(TimeSpan ttl) => ttl / 20;

    /// <summary>Renewal happens every TTL / this.</summary>
    public const int RenewalDivisor = 3;
}
