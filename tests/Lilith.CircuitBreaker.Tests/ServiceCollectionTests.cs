using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;

namespace Lilith.CircuitBreaker.Tests;

/// <summary>AddCircuitBreaker: named adapters, the registry, validation at start, health checks, Redis backend.</summary>
public sealed class ServiceCollectionTests(RedisFixture redis)
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Named_breakers_are_listed_with_their_state_and_report_health()
    {
        var time = new FakeTimeProvider();
        var services = new ServiceCollection().AddLogging().AddSingleton<TimeProvider>(time);
        services.AddCircuitBreaker("postgres-" + Guid.NewGuid().ToString("N")[..6], o => { o.Breaker.FailureThreshold = 1; o.Timeout = null; });
        services.AddCircuitBreaker("http-" + Guid.NewGuid().ToString("N")[..6]);
        await using ServiceProvider sp = services.BuildServiceProvider();
        var registry = sp.GetRequiredService<ICircuitBreakerRegistry>();
        Assert.Equal(2, registry.Breakers.Count);
        ICircuitBreaker db = registry.Breakers[0];
        Assert.All(registry.Breakers, b => Assert.Equal(CircuitState.Closed, b.State));

        await Calls.Fail(registry.GetPipeline(db.Name));
        Assert.Equal([CircuitState.Open, CircuitState.Closed], registry.Breakers.Select(b => b.State));
        HealthReport report = await sp.GetRequiredService<HealthCheckService>().CheckHealthAsync(Token);
        Assert.Equal(HealthStatus.Unhealthy, report.Entries[$"circuit-breaker:{db.Name}"].Status);
        Assert.Equal("open", report.Entries[$"circuit-breaker:{db.Name}"].Data["state"]);
        Assert.Equal(HealthStatus.Healthy, report.Entries[$"circuit-breaker:{registry.Breakers[1].Name}"].Status);
        Assert.Throws<KeyNotFoundException>(() => registry.GetBreaker("nope"));
    }

    [Fact]
    public async Task The_adapter_pipeline_retries_through_the_breaker_until_it_opens()
    {
        var services = new ServiceCollection();
        string name = "api-" + Guid.NewGuid().ToString("N")[..6];
        services.AddCircuitBreaker(name, o =>
        {
            o.Breaker.FailureThreshold = 2;
            o.Retry = RetryPresets.Create(DelayBackoffType.Constant, 5, TimeSpan.Zero, TimeSpan.Zero, useJitter: false);
        });
        await using ServiceProvider sp = services.BuildServiceProvider();
        ResiliencePipeline pipeline = sp.GetRequiredService<ICircuitBreakerRegistry>().GetPipeline(name);
        int attempts = 0;
        Outcome<int> outcome = await Calls.Run(pipeline, () => { attempts++; return Outcome.FromExceptionAsValueTask<int>(new TimeoutException()); });
        Assert.Equal(2, attempts);
        Assert.IsType<BrokenCircuitException>(outcome.Exception);
    }

    [Fact]
    public void Invalid_options_fail_at_start_with_messages_naming_option_and_value()
    {
        var services = new ServiceCollection();
        services.AddCircuitBreaker(o => { o.KeyPrefix = "bad prefix"; o.SyncInterval = TimeSpan.Zero; });
        services.AddCircuitBreaker("postgres", o => { o.Breaker.SuccessThreshold = 0; o.Breaker.FailureRatio = 2; o.Timeout = TimeSpan.FromSeconds(-1); });
        using ServiceProvider sp = services.BuildServiceProvider();
        var e = Assert.ThrowsAny<Exception>(() => sp.GetRequiredService<IStartupValidator>().Validate());
        string all = e is AggregateException a ? string.Join("\n", a.InnerExceptions.Select(x => x.Message)) : e.Message;
        Assert.Contains("CircuitBreaker:KeyPrefix: 'bad prefix' is not a valid key prefix", all, StringComparison.Ordinal);
        Assert.Contains("CircuitBreaker:SyncInterval: 00:00:00 is not valid", all, StringComparison.Ordinal);
        Assert.Contains("CircuitBreaker:postgres:Breaker:SuccessThreshold: 0 is not valid; it must be at least 1.", all, StringComparison.Ordinal);
        Assert.Contains("CircuitBreaker:postgres:Breaker:FailureRatio: 2 is not valid", all, StringComparison.Ordinal);
        Assert.Contains("CircuitBreaker:postgres:Timeout: -00:00:01 is not valid", all, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_Redis_backend_shares_state_between_two_service_providers()
    {
        string prefix = RedisFixture.NewPrefix();
        string connection = await redis.GetConnectionStringAsync();
        ServiceProvider Build(string instance)
        {
            var services = new ServiceCollection();
            services.AddCircuitBreaker(o => { o.Backend = CircuitBreakerBackend.Redis; o.ConnectionString = connection; o.KeyPrefix = prefix; o.InstanceId = instance; });
            services.AddCircuitBreaker("billing", o => o.Breaker.FailureThreshold = 1);
            return services.BuildServiceProvider();
        }

        await using ServiceProvider one = Build("one");
        await using ServiceProvider two = Build("two");
        ICircuitBreaker other = two.GetRequiredService<ICircuitBreakerRegistry>().GetBreaker("billing");
        ResiliencePipeline pipeline = one.GetRequiredService<ICircuitBreakerRegistry>().GetPipeline("billing");
        await Calls.UntilAsync(async () =>
        {
            await Calls.Fail(pipeline);
            await Task.Delay(20, Token);
            return other.State == CircuitState.Open;
        }, TimeSpan.FromSeconds(5), "the second provider sees the open");
        other.Reset();
        ICircuitBreaker first = one.GetRequiredService<ICircuitBreakerRegistry>().GetBreaker("billing");
        await Calls.Until(() => first.State == CircuitState.Closed, TimeSpan.FromSeconds(5), "a manual reset on two closes one");
    }
}
