namespace Lilith.CircuitBreaker;

/// <summary>The shared state of one breaker as the state store holds it (schema/circuit-breaker.md, payload <c>state</c>).</summary>
/// <param name="Breaker">The breaker's name.</param>
/// <param name="State">The state.</param>
/// <param name="BreakDuration">For <see cref="CircuitState.Open"/>, the full break that began at <paramref name="ChangedAt"/>; else zero.</param>
/// <param name="Opens">Openings in a row without a close (drives the growing break).</param>
/// <param name="Instance">The instance that wrote the state.</param>
/// <param name="ChangedAt">When the state was written, Unix epoch milliseconds of the store's clock (0 before it is written).</param>
public sealed record BreakerStateSnapshot(string Breaker, CircuitState State, TimeSpan BreakDuration, int Opens, string? Instance, long ChangedAt)
{
    /// <summary>For an open state read from the store, the part of the break still to run when it was read; else zero.</summary>
    public TimeSpan RetryAfter { get; init; }
}
