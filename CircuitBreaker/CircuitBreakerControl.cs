using Lilith.CircuitBreaker.Internal;

namespace Lilith.CircuitBreaker;

/// <summary>
/// A handle on a breaker built by <see cref="LilithCircuitBreakerBuilderExtensions.AddLilithCircuitBreaker"/>:
/// put one in <see cref="LilithCircuitBreakerOptions.Control"/>, build the pipeline, then read the state or
/// isolate and reset the breaker through it.
/// </summary>
/// <example>
/// <code>
/// var control = new CircuitBreakerControl();
/// var pipeline = new ResiliencePipelineBuilder()
///     .AddLilithCircuitBreaker(new LilithCircuitBreakerOptions { Name = "postgres", Control = control })
///     .Build();
/// control.Isolate();
/// </code>
/// </example>
public sealed class CircuitBreakerControl : ICircuitBreaker
{
    private BreakerController? _controller;

    /// <summary>True once a pipeline using this control has been built.</summary>
    public bool IsAttached => _controller is not null;

    /// <inheritdoc />
    public string Name => Controller.Name;

    /// <inheritdoc />
    public CircuitState State => Controller.State;

    /// <inheritdoc />
    public void Isolate() => Controller.Isolate();

    /// <inheritdoc />
    public void Reset() => Controller.Reset();

    internal BreakerController Controller => _controller ?? throw new InvalidOperationException(
        "This CircuitBreakerControl is not attached to a breaker yet: build the pipeline that uses it first.");

    internal void Attach(BreakerController controller)
    {
        if (Interlocked.CompareExchange(ref _controller, controller, null) is not null)
        {
            throw new InvalidOperationException("This CircuitBreakerControl is already attached to a breaker; use one control per breaker.");
        }
    }
}
