using Lilith.CircuitBreaker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Polly;
using Polly.CircuitBreaker;

namespace Lilith.Demo.Parts;

/// <summary>A per-adapter breaker: it opens after three failures, rejects without throwing, probes and closes.</summary>
public sealed class CircuitBreakerPart : IDemoPart
{
    /// <inheritdoc />
    public int Order => 30;

    /// <inheritdoc />
    public string Title => "Lilith.CircuitBreaker: a breaker for the 'inventory' adapter";

    /// <inheritdoc />
    public void Configure(IServiceCollection services, DemoBackend backend)
    {
        services.AddCircuitBreaker(o => o.Backend = backend.IsRedis ? CircuitBreakerBackend.Redis : CircuitBreakerBackend.InMemory);
        services.AddCircuitBreaker("inventory", o =>
        {
            o.Breaker.FailureThreshold = 3;
            o.Breaker.BreakDuration = TimeSpan.FromMilliseconds(300);
            o.Breaker.SuccessThreshold = 2;
            o.Retry = null;
            o.Timeout = TimeSpan.FromSeconds(1);
        });
    }

    /// <inheritdoc />
    public async Task RunAsync(IServiceProvider services, TextWriter output, CancellationToken cancellationToken)
    {
        var registry = services.GetRequiredService<ICircuitBreakerRegistry>();
        ICircuitBreaker breaker = registry.GetBreaker("inventory");
        breaker.Reset(); // a shared Redis may remember an earlier run
        ResiliencePipeline pipeline = registry.GetPipeline("inventory");
        bool healthy = false;
        for (int call = 1; call <= 5; call++)
        {
            Outcome<string> outcome = await Run(pipeline, healthy, cancellationToken);
            output.WriteLine($"   call {call}: {Describe(outcome)} -> breaker {breaker.State}");
        }

        await Task.Delay(TimeSpan.FromMilliseconds(350), TimeProvider.System, cancellationToken);
        healthy = true;
        for (int call = 6; call <= 7; call++)
        {
            Outcome<string> outcome = await Run(pipeline, healthy, cancellationToken);
            output.WriteLine($"   call {call} (after the break): {Describe(outcome)} -> breaker {breaker.State}");
        }

        HealthReport report = await services.GetRequiredService<HealthCheckService>().CheckHealthAsync(cancellationToken);
        output.WriteLine($"   health check circuit-breaker:inventory: {report.Entries["circuit-breaker:inventory"].Status}");
        output.WriteLine($"   registry: {string.Join(", ", registry.Breakers.Select(b => $"{b.Name}={b.State}"))}");
    }

    private static async ValueTask<Outcome<string>> Run(ResiliencePipeline pipeline, bool healthy, CancellationToken cancellationToken)
    {
        ResilienceContext context = ResilienceContextPool.Shared.Get(cancellationToken);
        try
        {
            return await pipeline.ExecuteOutcomeAsync(
                static (_, ok) => ok ? Outcome.FromResultAsValueTask("42 in stock") : Outcome.FromExceptionAsValueTask<string>(new TimeoutException("inventory did not answer")),
                context,
                healthy);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private static string Describe(Outcome<string> outcome) => outcome.Exception switch
    {
        null => $"ok ({outcome.Result})",
        BrokenCircuitException b => $"rejected without calling, retry after {b.RetryAfter?.TotalMilliseconds:0} ms",
        var e => $"failed ({e.GetType().Name})",
    };
}
