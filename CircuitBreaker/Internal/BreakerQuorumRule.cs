using System.Globalization;

namespace Lilith.CircuitBreaker.Internal;

/// <summary>The quorum decision of schema/circuit-breaker.md (script <c>report</c>), shared by both stores.</summary>
internal static class BreakerQuorumRule
{
    public static string KindName(BreakerReportKind kind) => kind switch
    {
        BreakerReportKind.Alive => "alive",
        BreakerReportKind.Trip => "trip",
        BreakerReportKind.Recover => "recover",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown report kind."),
    };

    /// <summary>ARGV[5] of the script: the fraction, or 0 for none, invariant culture.</summary>
    public static string FractionArgument(BreakerQuorum quorum) => (quorum.Fraction ?? 0).ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Trips the quorum needs with <paramref name="live"/> instances that reported within the window.</summary>
    public static int Required(BreakerQuorum quorum, int live) =>
        Math.Max(quorum.Instances, (int)Math.Ceiling((quorum.Fraction ?? 0) * live));

    /// <summary>The quorum of a breaker's options, null for <see cref="BreakerFleetPolicy.AnyInstance"/>.</summary>
    public static BreakerQuorum? Of(LilithCircuitBreakerOptions options) => options.FleetPolicy == BreakerFleetPolicy.Quorum
        ? new BreakerQuorum(options.QuorumInstances, options.QuorumFraction, options.QuorumWindow)
        : null;
}
