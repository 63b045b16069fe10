namespace Lilith.CircuitBreaker;

/// <summary>
/// Where breakers share their state: the in-memory store (one process) or Redis (the fleet, in any language).
/// Create one with <see cref="BreakerStateStore"/>. Breakers never let a store error reach a protected call:
/// they catch it and go on with their local state.
/// </summary>
public interface IBreakerStateStore : IAsyncDisposable
{
    /// <summary>This instance's id, written into every state it writes and held in the probe lease.</summary>
    string InstanceId { get; }

    /// <summary>Writes the state (with its TTL), optionally frees this instance's probe lease, and announces the change.</summary>
    /// <returns>The state as written, with <see cref="BreakerStateSnapshot.ChangedAt"/> from the store's clock.</returns>
    ValueTask<BreakerStateSnapshot> WriteAsync(BreakerStateSnapshot snapshot, bool releaseProbe, CancellationToken cancellationToken);

    /// <summary>Reads the state of a breaker, null when none is stored.</summary>
    ValueTask<BreakerStateSnapshot?> ReadAsync(string breaker, CancellationToken cancellationToken);

    /// <summary>Takes the fleet-wide probe lease of a breaker for <paramref name="lease"/>; false when another instance holds it.</summary>
    ValueTask<bool> TryAcquireProbeAsync(string breaker, TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>Extends this instance's probe lease of a breaker to <paramref name="lease"/> from now; false when this instance does not hold it.</summary>
    ValueTask<bool> RenewProbeAsync(string breaker, TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>
    /// Reports to the breaker's fleet quorum that this instance is alive, tripped or recovered, with the store's clock.
    /// A <see cref="BreakerReportKind.Trip"/> that completes the quorum while the shared state is not open writes
    /// <paramref name="opening"/> as the shared state (with the store's clock as <c>changedAt</c>) and announces it,
    /// in the same atomic step.
    /// </summary>
    /// <param name="breaker">The breaker's name.</param>
    /// <param name="kind">What is reported.</param>
    /// <param name="quorum">The breaker's quorum rule.</param>
    /// <param name="opening">For a trip: the <c>open</c> state to write when the quorum is reached; else null.</param>
    /// <param name="cancellationToken">Cancels the wait for the store's answer.</param>
    ValueTask<BreakerQuorumResult> ReportAsync(string breaker, BreakerReportKind kind, BreakerQuorum quorum, BreakerStateSnapshot? opening, CancellationToken cancellationToken);

    /// <summary>
    /// Calls <paramref name="onChanged"/> for every state of <paramref name="breaker"/> that another instance
    /// writes (announced, or found by the periodic resync). Dispose the result to stop.
    /// </summary>
    IDisposable Subscribe(string breaker, Action<BreakerStateSnapshot> onChanged);

    /// <summary>Raised when the store is reachable again after an outage (and after each periodic resync), so breakers whose last write failed publish their state again.</summary>
    event Action? Reconnected;
}
