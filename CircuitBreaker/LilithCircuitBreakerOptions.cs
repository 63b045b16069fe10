using Polly;
using Polly.CircuitBreaker;

namespace Lilith.CircuitBreaker;

/// <summary>
/// Options of one Lilith breaker. It trips after <see cref="FailureThreshold"/> failures in a row, or, when
/// <see cref="FailureRatio"/> is set, when that share of at least <see cref="MinimumThroughput"/> calls within
/// <see cref="SamplingDuration"/> failed. It stays open for <see cref="BreakDuration"/> (growing by
/// <see cref="BreakDurationMultiplier"/> on every reopening, up to <see cref="MaxBreakDuration"/>), then lets
/// <see cref="HalfOpenMaxProbes"/> probe calls through at a time and closes after <see cref="SuccessThreshold"/>
/// successes in a row; any probe failure reopens it.
/// </summary>
public sealed class LilithCircuitBreakerOptions : ResilienceStrategyOptions
{
    /// <summary>Creates options with the defaults (name <c>default</c>, 5 failures in a row, 30 s break, 1 probe, 1 success).</summary>
    public LilithCircuitBreakerOptions() => Name = "default";

    /// <summary>Failures in a row that open the breaker (used when <see cref="FailureRatio"/> is null). Default 5.</summary>
    public int FailureThreshold { get; set; } = 5;

    /// <summary>When set (0 &lt; ratio &lt;= 1), the breaker trips on the failure ratio over <see cref="SamplingDuration"/> instead of on consecutive failures. Default null.</summary>
    public double? FailureRatio { get; set; }

    /// <summary>Window over which <see cref="FailureRatio"/> is measured. Default 30 s.</summary>
    public TimeSpan SamplingDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Calls the window must hold before <see cref="FailureRatio"/> can trip. Default 10.</summary>
    public int MinimumThroughput { get; set; } = 10;

    /// <summary>How long the breaker stays open on its first opening. Default 30 s.</summary>
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Factor applied to the break on every reopening without a close in between (1 = fixed). Default 1.</summary>
    public double BreakDurationMultiplier { get; set; } = 1.0;

    /// <summary>Upper bound of a growing break. Default 5 minutes.</summary>
    public TimeSpan MaxBreakDuration { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Probe calls let through at the same time while half-open. Default 1.</summary>
    public int HalfOpenMaxProbes { get; set; } = 1;

    /// <summary>Successful probes in a row that close the breaker. Default 1.</summary>
    public int SuccessThreshold { get; set; } = 1;

    /// <summary>
    /// With shared state, how long one instance holds the fleet-wide probe lease (the <c>probe</c> key) while
    /// half-open; other instances stay open meanwhile. Default 10 s.
    /// </summary>
    public TimeSpan ProbeLease { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// With shared state, when one instance's trip opens the fleet: <see cref="BreakerFleetPolicy.AnyInstance"/> (default)
    /// or <see cref="BreakerFleetPolicy.Quorum"/>. Every instance of a breaker must use the same policy and quorum.
    /// </summary>
    public BreakerFleetPolicy FleetPolicy { get; set; } = BreakerFleetPolicy.AnyInstance;

    /// <summary>With <see cref="BreakerFleetPolicy.Quorum"/>: distinct instances that must trip within <see cref="QuorumWindow"/> to open the fleet. Default 2.</summary>
    public int QuorumInstances { get; set; } = 2;

    /// <summary>
    /// With <see cref="BreakerFleetPolicy.Quorum"/>: when set (0 &lt; fraction &lt;= 1), the fleet also needs this share of
    /// the instances that reported within <see cref="QuorumWindow"/> (each instance then reports every third of the
    /// window); the larger of the two requirements wins. Default null (count only).
    /// </summary>
    public double? QuorumFraction { get; set; }

    /// <summary>With <see cref="BreakerFleetPolicy.Quorum"/>: trips and reports older than this no longer count (Redis clock). Default 60 s.</summary>
    public TimeSpan QuorumWindow { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Where the breaker logs transitions and shared-state failures. When null: the logger factory of DI
    /// (<c>AddCircuitBreaker</c>), else the one the Redis state store was created with, else none.
    /// </summary>
    public Microsoft.Extensions.Logging.ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>Which outcomes count as failures. Default: every exception except <see cref="OperationCanceledException"/>; results never.</summary>
    /// <example><c>ShouldHandle = new PredicateBuilder().Handle&lt;TimeoutException&gt;().HandleResult(r =&gt; r is HttpResponseMessage { StatusCode: >= (HttpStatusCode)500 })</c></example>
    public Func<CircuitBreakerPredicateArguments<object>, ValueTask<bool>> ShouldHandle { get; set; } = DefaultPredicate;

    /// <summary>Raised when the breaker opens (locally or because another instance opened it).</summary>
    public Func<CircuitBreakerEventArguments, ValueTask>? OnOpened { get; set; }

    /// <summary>Raised when the breaker goes half-open on this instance.</summary>
    public Func<CircuitBreakerEventArguments, ValueTask>? OnHalfOpened { get; set; }

    /// <summary>Raised when the breaker closes.</summary>
    public Func<CircuitBreakerEventArguments, ValueTask>? OnClosed { get; set; }

    /// <summary>Raised for every call the breaker rejects.</summary>
    public Func<CircuitBreakerEventArguments, ValueTask>? OnRejected { get; set; }

    /// <summary>Shares the state with other instances through this store (null: process-local state only).</summary>
    public IBreakerStateStore? StateStore { get; set; }

    /// <summary>Optional handle to read the state and isolate or reset the breaker after the pipeline is built.</summary>
    public CircuitBreakerControl? Control { get; set; }

    /// <summary>The default predicate; the strategy recognises it and decides without boxing the result.</summary>
    internal static readonly Func<CircuitBreakerPredicateArguments<object>, ValueTask<bool>> DefaultPredicate = DefaultShouldHandle;

    private static ValueTask<bool> DefaultShouldHandle(CircuitBreakerPredicateArguments<object> args) =>
        new(args.Outcome.Exception is not null and not OperationCanceledException);
}
