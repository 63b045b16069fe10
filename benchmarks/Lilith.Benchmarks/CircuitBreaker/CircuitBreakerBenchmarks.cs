using BenchmarkDotNet.Attributes;
using Lilith.CircuitBreaker;
using Polly;
using Polly.CircuitBreaker;
using StackExchange.Redis;

namespace Lilith.Benchmarks.CircuitBreaker;

/// <summary>
/// A call through a closed breaker: Polly's own circuit breaker (anchor) against the Lilith breaker, local and
/// with its state shared through Redis, and shared with the quorum fleet policy (the closed path must not touch
/// Redis). Goal: at most 0.5x Polly's time, 0 bytes.
/// </summary>
[MemoryDiagnoser]
public class CircuitBreakerClosedPathBenchmarks
{
    private ResiliencePipeline _polly = null!;
    private ResiliencePipeline _lilith = null!;
    private ResiliencePipeline _lilithShared = null!;
    private ResiliencePipeline _lilithQuorum = null!;
    private BenchmarkRedis _redis = null!;
    private IConnectionMultiplexer _connection = null!;
    private IBreakerStateStore _store = null!;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _polly = new ResiliencePipelineBuilder().AddCircuitBreaker(new CircuitBreakerStrategyOptions()).Build();
        _lilith = new ResiliencePipelineBuilder().AddLilithCircuitBreaker(new LilithCircuitBreakerOptions { Name = "bench" }).Build();
        _redis = await BenchmarkRedis.StartAsync();
        _connection = await _redis.ConnectAsync();
        _store = BreakerStateStore.CreateRedis(_connection, "bench-" + Guid.NewGuid().ToString("N")[..8]);
        _lilithShared = new ResiliencePipelineBuilder().AddLilithCircuitBreaker(new LilithCircuitBreakerOptions { Name = "bench", StateStore = _store }).Build();
        _lilithQuorum = new ResiliencePipelineBuilder().AddLilithCircuitBreaker(new LilithCircuitBreakerOptions
        {
            Name = "bench-quorum", StateStore = _store, FleetPolicy = BreakerFleetPolicy.Quorum, QuorumInstances = 2, QuorumFraction = 0.5,
        }).Build();
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _store.DisposeAsync();
        await _connection.DisposeAsync();
        await _redis.DisposeAsync();
    }

    [Benchmark(Baseline = true)]
    public ValueTask<Outcome<int>> PollyCircuitBreaker() => BreakerCalls.Run(_polly);

    [Benchmark]
    public ValueTask<Outcome<int>> LilithBreaker() => BreakerCalls.Run(_lilith);

    [Benchmark]
    public ValueTask<Outcome<int>> LilithBreakerSharedOnRedis() => BreakerCalls.Run(_lilithShared);

    [Benchmark]
    public ValueTask<Outcome<int>> LilithBreakerQuorumOnRedis() => BreakerCalls.Run(_lilithQuorum);
}

/// <summary>A call rejected by an open (isolated) breaker on the outcome path: no exception is thrown by either.</summary>
[MemoryDiagnoser]
public class CircuitBreakerOpenPathBenchmarks
{
    private ResiliencePipeline _polly = null!;
    private ResiliencePipeline _lilith = null!;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        var manual = new CircuitBreakerManualControl();
        _polly = new ResiliencePipelineBuilder().AddCircuitBreaker(new CircuitBreakerStrategyOptions { ManualControl = manual }).Build();
        await manual.IsolateAsync();
        var control = new CircuitBreakerControl();
        _lilith = new ResiliencePipelineBuilder().AddLilithCircuitBreaker(new LilithCircuitBreakerOptions { Name = "bench", Control = control }).Build();
        control.Isolate();
    }

    [Benchmark(Baseline = true)]
    public ValueTask<Outcome<int>> PollyRejects() => BreakerCalls.Run(_polly);

    [Benchmark]
    public ValueTask<Outcome<int>> LilithRejects() => BreakerCalls.Run(_lilith);
}

internal static class BreakerCalls
{
    public static async ValueTask<Outcome<int>> Run(ResiliencePipeline pipeline)
    {
        ResilienceContext context = ResilienceContextPool.Shared.Get();
        Outcome<int> outcome = await pipeline.ExecuteOutcomeAsync(static (_, state) => Outcome.FromResultAsValueTask(state), context, 1);
        ResilienceContextPool.Shared.Return(context);
        return outcome;
    }
}
