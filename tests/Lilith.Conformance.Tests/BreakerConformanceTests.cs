using System.Text.Json;
using Lilith.CircuitBreaker;
using Polly;
using BrokenCircuitException = Polly.CircuitBreaker.BrokenCircuitException;

namespace Lilith.Conformance.Tests;

/// <summary>schema/circuit-breaker.md from both sides: the shared state key and the changed channel.</summary>
public sealed class BreakerConformanceTests(RedisFixture redis) : ConformanceScenario(redis)
{
    [Theory]
    [MemberData(nameof(Sibling.Languages), MemberType = typeof(Sibling))]
    public async Task CSharp_opens_the_breaker_and_the_sibling_sees_it_open_then_closed(string language)
    {
        Sibling sibling = await SiblingAsync(language);
        await using IBreakerStateStore store = BreakerStateStore.CreateRedis(await Redis.NewConnectionAsync(), sibling.Prefix, "dotnet-1");
        (ResiliencePipeline pipeline, CircuitBreakerControl control) = Breaker(store);

        await Fail(pipeline);
        await Fail(pipeline);
        Assert.Equal(CircuitState.Open, control.State);
        JsonElement open = await sibling.RunAsync("breaker-wait", "--breaker", "postgres", "--state", "open", "--timeout-ms", "10000");
        Assert.Equal(("postgres", "open", 30_000, 1, "dotnet-1"), (open.GetProperty("breaker").GetString(), open.GetProperty("state").GetString(),
            open.GetProperty("breakDurationMs").GetInt32(), open.GetProperty("opens").GetInt32(), open.GetProperty("instance").GetString()));
        Assert.InRange(open.GetProperty("retryAfterMs").GetInt64(), 20_000, 30_000);

        control.Reset();
        JsonElement closed = await sibling.RunAsync("breaker-wait", "--breaker", "postgres", "--state", "closed", "--timeout-ms", "10000");
        Assert.Equal(("closed", 0), (closed.GetProperty("state").GetString(), closed.GetProperty("opens").GetInt32()));
        Assert.False(closed.TryGetProperty("breakDurationMs", out _));
    }

    [Theory]
    [MemberData(nameof(Sibling.Languages), MemberType = typeof(Sibling))]
    public async Task Sibling_opens_the_breaker_and_CSharp_rejects_calls_then_closes_when_the_sibling_closes_it(string language)
    {
        Sibling sibling = await SiblingAsync(language);
        await using IBreakerStateStore store = BreakerStateStore.CreateRedis(await Redis.NewConnectionAsync(), sibling.Prefix, "dotnet-1", TimeSpan.FromMilliseconds(200));
        (ResiliencePipeline pipeline, CircuitBreakerControl control) = Breaker(store);
        Assert.Equal(1, (await Succeed(pipeline)).Result);

        await sibling.RunAsync("breaker-write", "--breaker", "postgres", "--state", "open", "--break-ms", "30000", "--opens", "1", "--instance", $"{language}-1");
        BreakerStateSnapshot? read = await store.ReadAsync("postgres", Ct);
        Assert.NotNull(read);
        Assert.Equal((CircuitState.Open, 1, $"{language}-1", TimeSpan.FromSeconds(30)), (read.State, read.Opens, read.Instance, read.BreakDuration));
        Assert.InRange(read.RetryAfter, TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(30));
        await Eventually.TrueAsync(() => control.State == CircuitState.Open, "the C# breaker follows the sibling's opening");
        BrokenCircuitException rejected = Assert.IsType<BrokenCircuitException>((await Succeed(pipeline)).Exception);
        Assert.InRange(rejected.RetryAfter!.Value, TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(30));

        await sibling.RunAsync("breaker-write", "--breaker", "postgres", "--state", "closed", "--opens", "0", "--instance", $"{language}-1");
        await Eventually.TrueAsync(() => control.State == CircuitState.Closed, "the C# breaker follows the sibling's close");
        Assert.Equal(1, (await Succeed(pipeline)).Result);
    }

    private static (ResiliencePipeline Pipeline, CircuitBreakerControl Control) Breaker(IBreakerStateStore store)
    {
        var control = new CircuitBreakerControl();
        ResiliencePipeline pipeline = new ResiliencePipelineBuilder().AddLilithCircuitBreaker(new LilithCircuitBreakerOptions
        {
            Name = "postgres",
            FailureThreshold = 2,
            BreakDuration = TimeSpan.FromSeconds(30),
            StateStore = store,
            Control = control,
        }).Build();
        return (pipeline, control);
    }

    private static ValueTask<Outcome<int>> Fail(ResiliencePipeline pipeline) =>
        pipeline.ExecuteOutcomeAsync((_, _) => Outcome.FromExceptionAsValueTask<int>(new TimeoutException("boom")), ResilienceContextPool.Shared.Get(Ct), 0);

    private static ValueTask<Outcome<int>> Succeed(ResiliencePipeline pipeline) =>
        pipeline.ExecuteOutcomeAsync((_, _) => Outcome.FromResultAsValueTask(1), ResilienceContextPool.Shared.Get(Ct), 0);
}
