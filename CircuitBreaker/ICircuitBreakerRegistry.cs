using Polly;

namespace Lilith.CircuitBreaker;

/// <summary>Every breaker registered with <c>AddCircuitBreaker(name)</c>, with its state and its pipeline.</summary>
public interface ICircuitBreakerRegistry
{
    /// <summary>All registered breakers, in registration order.</summary>
    IReadOnlyList<ICircuitBreaker> Breakers { get; }

    /// <summary>The breaker of an adapter.</summary>
    /// <exception cref="KeyNotFoundException">No breaker is registered under <paramref name="name"/>.</exception>
    ICircuitBreaker GetBreaker(string name);

    /// <summary>The adapter's pipeline: retry, breaker, per-attempt timeout.</summary>
    /// <exception cref="KeyNotFoundException">No breaker is registered under <paramref name="name"/>.</exception>
    ResiliencePipeline GetPipeline(string name);
}
