using Polly;

namespace Lilith.CircuitBreaker.Tests;

/// <summary>Builds breakers and runs calls through them on the outcome path.</summary>
internal static class Calls
{
    public static (ResiliencePipeline Pipeline, CircuitBreakerControl Control) Breaker(LilithCircuitBreakerOptions options, TimeProvider time)
    {
        var control = new CircuitBreakerControl();
        options.Control = control;
        ResiliencePipeline pipeline = new ResiliencePipelineBuilder { TimeProvider = time }.AddLilithCircuitBreaker(options).Build();
        return (pipeline, control);
    }

    public static ValueTask<Outcome<int>> Run(ResiliencePipeline pipeline, Func<ValueTask<Outcome<int>>> body) => RunCore(pipeline, body);

    public static ValueTask<Outcome<int>> Fail(ResiliencePipeline pipeline, Exception? e = null) =>
        RunCore(pipeline, () => Outcome.FromExceptionAsValueTask<int>(e ?? new TimeoutException("boom")));

    public static ValueTask<Outcome<int>> Succeed(ResiliencePipeline pipeline, int value = 1) =>
        RunCore(pipeline, () => Outcome.FromResultAsValueTask(value));

    private static async ValueTask<Outcome<int>> RunCore(ResiliencePipeline pipeline, Func<ValueTask<Outcome<int>>> body)
    {
        ResilienceContext context = ResilienceContextPool.Shared.Get(TestContext.Current.CancellationToken);
        try
        {
            return await pipeline.ExecuteOutcomeAsync(static (_, b) => b(), context, body);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    public static async Task Until(Func<bool> condition, TimeSpan within, string what)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > within)
            {
                Assert.Fail($"Timed out after {within.TotalMilliseconds} ms waiting for: {what}");
            }

            await Task.Delay(5, TestContext.Current.CancellationToken);
        }
    }

    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan within, string what)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > within)
            {
                Assert.Fail($"Timed out after {within.TotalMilliseconds} ms waiting for: {what}");
            }

            await Task.Delay(10, TestContext.Current.CancellationToken);
        }
    }
}
