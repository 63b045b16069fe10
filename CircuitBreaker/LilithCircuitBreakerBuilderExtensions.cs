using Lilith.CircuitBreaker.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;

namespace Lilith.CircuitBreaker;

/// <summary>Adds the Lilith breaker to a Polly pipeline, next to Polly's timeout, retry and fallback.</summary>
public static class LilithCircuitBreakerBuilderExtensions
{
    /// <summary>
    /// Adds a Lilith circuit breaker. A rejected call completes with a <see cref="Polly.CircuitBreaker.BrokenCircuitException"/>
    /// (carrying <c>RetryAfter</c>) or an <see cref="Polly.CircuitBreaker.IsolatedCircuitException"/>; on
    /// <c>ExecuteOutcomeAsync</c> it is returned in the outcome and never thrown.
    /// </summary>
    /// <example>
    /// <code>
    /// ResiliencePipeline pipeline = new ResiliencePipelineBuilder()
    ///     .AddRetry(RetryPresets.Database())
    ///     .AddLilithCircuitBreaker(new LilithCircuitBreakerOptions { Name = "postgres", FailureThreshold = 3, SuccessThreshold = 2 })
    ///     .AddTimeout(TimeSpan.FromSeconds(2))
    ///     .Build();
    /// </code>
    /// </example>
    /// <exception cref="ArgumentException">The options are not valid; the message names each bad option and value.</exception>
    public static TBuilder AddLilithCircuitBreaker<TBuilder>(this TBuilder builder, LilithCircuitBreakerOptions options)
        where TBuilder : ResiliencePipelineBuilderBase
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);
        List<string> errors = BreakerOptionsValidation.Describe(options);
        if (errors.Count > 0)
        {
            throw new ArgumentException("The circuit breaker options are not valid: " + string.Join(" ", errors), nameof(options));
        }

        return builder.AddStrategy(context => Create(options, context.TimeProvider));
    }

    /// <param name="options">The breaker's options.</param>
    /// <param name="timeProvider">The pipeline's clock.</param>
    /// <param name="loggerFactory">DI's logger factory, when built by <c>AddCircuitBreaker</c>; <see cref="LilithCircuitBreakerOptions.LoggerFactory"/> wins over it.</param>
    internal static LilithCircuitBreakerStrategy Create(LilithCircuitBreakerOptions options, TimeProvider timeProvider, ILoggerFactory? loggerFactory = null)
    {
        // Outside DI, a Redis store created with a logger factory lends it, so shared-state failures are never silent there.
        ILoggerFactory loggers = options.LoggerFactory ?? loggerFactory ?? (options.StateStore as RedisBreakerStateStore)?.LoggerFactory ?? NullLoggerFactory.Instance;
        var controller = new BreakerController(options, timeProvider, loggers.CreateLogger("Lilith.CircuitBreaker"));
        options.Control?.Attach(controller);
        return new LilithCircuitBreakerStrategy(controller, options.ShouldHandle);
    }
}
