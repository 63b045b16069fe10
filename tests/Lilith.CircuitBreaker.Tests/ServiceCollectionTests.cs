using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using StackExchange.Redis;

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
        Assert.Equal(HealthStatus.Degraded, report.Entries[$"circuit-breaker:{db.Name}"].Status);
        Assert.Equal("open", report.Entries[$"circuit-breaker:{db.Name}"].Data["state"]);
        Assert.Equal(HealthStatus.Healthy, report.Entries[$"circuit-breaker:{registry.Breakers[1].Name}"].Status);
        Assert.Throws<KeyNotFoundException>(() => registry.GetBreaker("nope"));
    }

    [Fact]
    public async Task An_open_breaker_reports_Degraded_by_default_and_the_status_is_an_option()
    {
        var services = new ServiceCollection().AddLogging();
        string soft = "soft-" + Guid.NewGuid().ToString("N")[..6], hard = "hard-" + Guid.NewGuid().ToString("N")[..6];
        services.AddCircuitBreaker(soft, o => { o.Breaker.FailureThreshold = 1; o.Timeout = null; });
        services.AddCircuitBreaker(hard, o => { o.Breaker.FailureThreshold = 1; o.Timeout = null; o.OpenHealthStatus = HealthStatus.Unhealthy; });
        await using ServiceProvider sp = services.BuildServiceProvider();
        var registry = sp.GetRequiredService<ICircuitBreakerRegistry>();
        await Calls.Fail(registry.GetPipeline(soft));
        await Calls.Fail(registry.GetPipeline(hard));
        registry.GetBreaker(hard).Isolate();
        HealthReport report = await sp.GetRequiredService<HealthCheckService>().CheckHealthAsync(Token);
        Assert.Equal(HealthStatus.Degraded, report.Entries[$"circuit-breaker:{soft}"].Status);
        Assert.Equal(HealthStatus.Unhealthy, report.Entries[$"circuit-breaker:{hard}"].Status);
        Assert.Equal("isolated", report.Entries[$"circuit-breaker:{hard}"].Data["state"]);
        Assert.Equal(HealthStatus.Degraded, (await sp.GetRequiredService<HealthCheckService>().CheckHealthAsync(r => r.Name == $"circuit-breaker:{soft}", Token)).Status);
    }

    [Fact]
    public async Task The_first_GetPipeline_does_not_wait_for_a_Redis_that_never_answers_and_the_breaker_works_locally()
    {
        // A "Redis" that accepts connections and never says a word: connecting can only end by its timeout.
        using var silent = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        silent.Start();
        List<System.Net.Sockets.Socket> accepted = [];
        _ = Task.Run(async () =>
        {
            while (true)
            {
                accepted.Add(await silent.AcceptSocketAsync(Token));
            }
        }, Token);
        int port = ((System.Net.IPEndPoint)silent.LocalEndpoint).Port;
        var services = new ServiceCollection().AddSingleton<TimeProvider>(new FakeTimeProvider());
        services.AddCircuitBreaker(o => { o.Backend = CircuitBreakerBackend.Redis; o.ConnectionString = $"127.0.0.1:{port},connectTimeout=60000,syncTimeout=60000"; o.KeyPrefix = RedisFixture.NewPrefix(); });
        string name = "silent-" + Guid.NewGuid().ToString("N")[..6];
        services.AddCircuitBreaker(name, o => { o.Breaker.FailureThreshold = 1; o.Timeout = null; });
        await using ServiceProvider sp = services.BuildServiceProvider();
        var registry = sp.GetRequiredService<ICircuitBreakerRegistry>();

        // Far less than the 60 s connect timeout the old blocking connect waited for.
        ResiliencePipeline pipeline = await Task.Run(() => registry.GetPipeline(name), Token).WaitAsync(TimeSpan.FromSeconds(20), Token);
        Assert.Equal(3, (await Calls.Succeed(pipeline, 3)).Result);
        await Calls.Fail(pipeline);
        Assert.Equal(CircuitState.Open, registry.GetBreaker(name).State);
        Assert.IsType<BrokenCircuitException>((await Calls.Succeed(pipeline)).Exception);
    }

    [Fact]
    public async Task Outside_DI_shared_state_failures_are_logged_through_the_options_or_the_stores_logger_factory()
    {
        string prefix = RedisFixture.NewPrefix();
        IConnectionMultiplexer connection = await redis.NewConnectionAsync();
        var keys = new Lilith.CircuitBreaker.Internal.BreakerKeys(prefix);

        // Foreign data of the wrong type where the state belongs: every read of it fails.
        await connection.GetDatabase().HashSetAsync(keys.State("inventory"), "not", "a string");
        var fromStore = new CollectingLoggerFactory();
        var fromOptions = new CollectingLoggerFactory();
        await using IBreakerStateStore store = BreakerStateStore.CreateRedis(connection, prefix, "dotnet-1", loggerFactory: fromStore);
        await using IBreakerStateStore bare = BreakerStateStore.CreateRedis(connection, prefix, "dotnet-2");
        _ = new ResiliencePipelineBuilder().AddLilithCircuitBreaker(new LilithCircuitBreakerOptions { Name = "inventory", StateStore = store }).Build();
        _ = new ResiliencePipelineBuilder().AddLilithCircuitBreaker(new LilithCircuitBreakerOptions { Name = "inventory", StateStore = bare, LoggerFactory = fromOptions }).Build();
        foreach (CollectingLoggerFactory logs in new[] { fromStore, fromOptions })
        {
            await Calls.Until(() => logs.Records.Any(r => r.Category == "Lilith.CircuitBreaker" && r.Exception is RedisServerException), TimeSpan.FromSeconds(10), "the breaker logs the failed read with its exception");
        }

        await connection.DisposeAsync();
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
        services.AddCircuitBreaker("mysql", o =>
        {
            o.Breaker.FleetPolicy = BreakerFleetPolicy.Quorum;
            o.Breaker.QuorumInstances = 0;
            o.Breaker.QuorumFraction = 1.5;
            o.Breaker.QuorumWindow = TimeSpan.FromMilliseconds(10);
        });
        using ServiceProvider sp = services.BuildServiceProvider();
        var e = Assert.ThrowsAny<Exception>(() => sp.GetRequiredService<IStartupValidator>().Validate());
        string all = e is AggregateException a ? string.Join("\n", a.InnerExceptions.Select(x => x.Message)) : e.Message;
        Assert.Contains("CircuitBreaker:KeyPrefix: 'bad prefix' is not a valid key prefix", all, StringComparison.Ordinal);
        Assert.Contains("CircuitBreaker:SyncInterval: 00:00:00 is not valid", all, StringComparison.Ordinal);
        Assert.Contains("CircuitBreaker:postgres:Breaker:SuccessThreshold: 0 is not valid; it must be at least 1.", all, StringComparison.Ordinal);
        Assert.Contains("CircuitBreaker:postgres:Breaker:FailureRatio: 2 is not valid", all, StringComparison.Ordinal);
        Assert.Contains("CircuitBreaker:postgres:Timeout: -00:00:01 is not valid", all, StringComparison.Ordinal);
        Assert.Contains("CircuitBreaker:mysql:Breaker:QuorumInstances: 0 is not valid; it must be at least 1.", all, StringComparison.Ordinal);
        Assert.Contains("CircuitBreaker:mysql:Breaker:QuorumFraction: 1.5 is not valid", all, StringComparison.Ordinal);
        Assert.Contains("CircuitBreaker:mysql:Breaker:QuorumWindow: 00:00:00.0100000 is not valid; it must be at least 100 ms.", all, StringComparison.Ordinal);
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

/// <summary>Keeps every log record (category, level, exception) for assertions.</summary>
internal sealed class CollectingLoggerFactory : Microsoft.Extensions.Logging.ILoggerFactory
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<(string Category, Microsoft.Extensions.Logging.LogLevel Level, Exception? Exception)> _records = new();

    public IReadOnlyCollection<(string Category, Microsoft.Extensions.Logging.LogLevel Level, Exception? Exception)> Records => _records;

    public Microsoft.Extensions.Logging.ILogger CreateLogger(string categoryName) => new Logger(categoryName, _records);

    public void AddProvider(Microsoft.Extensions.Logging.ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    private sealed class Logger(string category, System.Collections.Concurrent.ConcurrentQueue<(string, Microsoft.Extensions.Logging.LogLevel, Exception?)> records) : Microsoft.Extensions.Logging.ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            records.Enqueue((category, logLevel, exception));
    }
}
