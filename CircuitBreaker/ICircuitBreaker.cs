namespace Lilith.CircuitBreaker;

/// <summary>One breaker: its name, its state, and manual control.</summary>
public interface ICircuitBreaker
{
    /// <summary>The breaker's name (the adapter it protects, such as <c>postgres</c>).</summary>
    string Name { get; }

    /// <summary>The state as this instance sees it now.</summary>
    CircuitState State { get; }

    /// <summary>Opens the breaker until <see cref="Reset"/> is called (shared with the fleet when the state is shared).</summary>
    void Isolate();

    /// <summary>Closes the breaker and clears its counters and its growing break (shared with the fleet when the state is shared).</summary>
    void Reset();
}
