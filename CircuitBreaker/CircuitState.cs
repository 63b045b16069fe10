namespace Lilith.CircuitBreaker;

/// <summary>The state of a breaker; on the wire the values are <c>closed</c>, <c>open</c>, <c>half-open</c> and <c>isolated</c>.</summary>
public enum CircuitState
{
    /// <summary>Calls flow; failures are counted.</summary>
    Closed = 0,

    /// <summary>Calls are rejected until the break duration ends.</summary>
    Open = 1,

    /// <summary>A bounded number of probe calls test the dependency; the others are rejected.</summary>
    HalfOpen = 2,

    /// <summary>Opened by hand (<see cref="ICircuitBreaker.Isolate"/>); stays open until <see cref="ICircuitBreaker.Reset"/>.</summary>
    Isolated = 3,
}
