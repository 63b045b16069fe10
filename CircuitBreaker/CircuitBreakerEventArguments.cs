namespace Lilith.CircuitBreaker;

/// <summary>What a breaker event reports: a state change or a rejected call.</summary>
public readonly struct CircuitBreakerEventArguments
{
    internal CircuitBreakerEventArguments(string name, CircuitState previous, CircuitState state, TimeSpan breakDuration, bool isManual, bool isRemote, Exception? exception)
    {
        Name = name;
        PreviousState = previous;
        State = state;
        BreakDuration = breakDuration;
        IsManual = isManual;
        IsRemote = isRemote;
        Exception = exception;
    }

    /// <summary>The breaker's name.</summary>
    public string Name { get; }

    /// <summary>The state before the change (equal to <see cref="State"/> for a rejection).</summary>
    public CircuitState PreviousState { get; }

    /// <summary>The state now.</summary>
    public CircuitState State { get; }

    /// <summary>For an opening, how long the break lasts; for a rejection, how long until the breaker lets a call through.</summary>
    public TimeSpan BreakDuration { get; }

    /// <summary>True when <see cref="ICircuitBreaker.Isolate"/> or <see cref="ICircuitBreaker.Reset"/> caused the change.</summary>
    public bool IsManual { get; }

    /// <summary>True when another instance changed the shared state and this one followed.</summary>
    public bool IsRemote { get; }

    /// <summary>The failure that opened the breaker, when one did.</summary>
    public Exception? Exception { get; }
}
