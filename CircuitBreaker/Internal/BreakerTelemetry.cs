using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Linq;

namespace Lilith.CircuitBreaker.Internal;

/// <summary>The package's one Meter and one ActivitySource, both named <c>Lilith.CircuitBreaker</c>.</summary>
internal static class BreakerTelemetry
{
    public const string Name = "Lilith.CircuitBreaker";

    public static readonly Meter Meter = new(Name);

    public static readonly ActivitySource ActivitySource = new(Name);

    /// <summary>State changes, tagged with the breaker and the new state.</summary>
    public static readonly Counter<long> Transitions = Meter.CreateCounter<long>("lilith.circuit_breaker.transitions", description: "Breaker state changes.");

    /// <summary>Calls rejected by an open, half-open (probe limit) or isolated breaker.</summary>
    public static readonly Counter<long> Rejections = Meter.CreateCounter<long>("lilith.circuit_breaker.rejections", description: "Calls rejected by a breaker.");

    /// <summary>Shared-state payloads that could not be read.</summary>
    public static readonly Counter<long> Unreadable = Meter.CreateCounter<long>("lilith.circuit_breaker.unreadable_payloads", description: "Breaker state payloads skipped because they could not be read.");
}

/// <summary>Breakers built by the DI registry, reported by the state gauge.</summary>
internal static class TrackedBreakers
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<BreakerController, byte> Live = new();

    static TrackedBreakers() => BreakerTelemetry.Meter.CreateObservableGauge(
        "lilith.circuit_breaker.state",
        () => Live.Keys.Select(b => new Measurement<int>((int)b.State, new KeyValuePair<string, object?>("lilith.circuit_breaker.name", b.Name))),
        description: "Breaker state: 0 closed, 1 open, 2 half-open, 3 isolated.");

    public static void Track(BreakerController breaker) => Live.TryAdd(breaker, 0);

    public static void Untrack(BreakerController breaker) => Live.TryRemove(breaker, out _);
}
