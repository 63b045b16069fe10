namespace Lilith.CircuitBreaker;

/// <summary>When a breaker that shares its state opens the whole fleet (schema/circuit-breaker.md, flow "Quorum opening").</summary>
public enum BreakerFleetPolicy
{
    /// <summary>Any instance that trips opens every instance.</summary>
    AnyInstance = 0,

    /// <summary>
    /// An instance that trips opens its own breaker at once and reports the trip; the fleet opens only when
    /// enough distinct instances tripped within <see cref="LilithCircuitBreakerOptions.QuorumWindow"/>
    /// (<see cref="LilithCircuitBreakerOptions.QuorumInstances"/>, <see cref="LilithCircuitBreakerOptions.QuorumFraction"/>).
    /// One instance with a local problem (its own network path, CPU starvation) then cannot open the others.
    /// </summary>
    Quorum = 1,
}

/// <summary>What an instance reports to the fleet's quorum of a breaker.</summary>
public enum BreakerReportKind
{
    /// <summary>The instance uses the breaker (counts it among the instances that reported recently).</summary>
    Alive = 0,

    /// <summary>The instance's own breaker tripped.</summary>
    Trip = 1,

    /// <summary>The instance's own breaker closed again; its trip no longer counts.</summary>
    Recover = 2,
}

/// <summary>The quorum rule of a breaker: every instance of the breaker must use the same rule.</summary>
/// <param name="Instances">Distinct instances whose trips open the fleet (at least 1).</param>
/// <param name="Fraction">When set (0 &lt; fraction &lt;= 1), the fleet also needs this share of the instances that reported within <paramref name="Window"/>; the larger requirement wins.</param>
/// <param name="Window">Trips and reports older than this no longer count.</param>
public sealed record BreakerQuorum(int Instances, double? Fraction, TimeSpan Window);

/// <summary>The answer to a quorum report.</summary>
/// <param name="Opened">True when this report completed the quorum and the fleet's state was written <c>open</c>.</param>
/// <param name="Trips">Distinct instances with a trip that counts (within the window, after the last fleet-wide close).</param>
/// <param name="Required">Trips the quorum needs now.</param>
/// <param name="ReportedAt">The store's clock when the report was taken, Unix epoch milliseconds (the <c>changedAt</c> of the opening when <paramref name="Opened"/>).</param>
public sealed record BreakerQuorumResult(bool Opened, int Trips, int Required, long ReportedAt);
