using BenchmarkDotNet.Attributes;
using Lilith.DomainEvents;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace Lilith.Benchmarks.DomainEvents;

/// <summary>
/// End-to-end latency on loopback Redis: publish one event and wait until its handler ran (hosted consumer,
/// 1 ms poll interval), against one PING round trip. Max bounds the p99.
/// </summary>
[MemoryDiagnoser]
[AllStatisticsColumn]
public class DomainEventsLatencyBenchmarks
{
    private BenchmarkRedis _redis = null!;
    private IConnectionMultiplexer _connection = null!;
    private ServiceProvider _services = null!;
    private IDomainEventPublisher _publisher = null!;
    private Signal _signal = null!;
    private List<IHostedService> _hosted = null!;

    /// <summary>The benchmark's event.</summary>
    public sealed record LatencyEvent(int N);

    /// <summary>Completed by the handler.</summary>
    public sealed class Signal
    {
        /// <summary>The pending wait.</summary>
        public TaskCompletionSource Received { get; set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>Completes the signal.</summary>
    public sealed class LatencyHandler(Signal signal) : IDomainEventHandler<LatencyEvent>
    {
        /// <inheritdoc />
        public ValueTask HandleAsync(LatencyEvent domainEvent, CloudEvent envelope, CancellationToken cancellationToken)
        {
            signal.Received.TrySetResult();
            return default;
        }
    }

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _redis = await BenchmarkRedis.StartAsync();
        _connection = await _redis.ConnectAsync();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton(_connection);
        _signal = new Signal();
        services.AddSingleton(_signal);
        services.AddDomainEvents(o =>
        {
            o.Transport = DomainEventTransport.Redis;
            o.KeyPrefix = "bench";
            o.Stream = "latency-" + Guid.NewGuid().ToString("N");
            o.ServiceName = "bench";
            o.PollInterval = TimeSpan.FromMilliseconds(1);
        }).AddHandler<LatencyEvent, LatencyHandler>();
        _services = services.BuildServiceProvider();
        _publisher = _services.GetRequiredService<IDomainEventPublisher>();
        _hosted = _services.GetServices<IHostedService>().ToList();
        foreach (IHostedService hosted in _hosted)
        {
            await hosted.StartAsync(CancellationToken.None);
        }
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        foreach (IHostedService hosted in _hosted)
        {
            await hosted.StopAsync(CancellationToken.None);
        }

        await _services.DisposeAsync();
        await _connection.DisposeAsync();
        await _redis.DisposeAsync();
    }

    /// <summary>The anchor: one loopback round trip.</summary>
    [Benchmark(Baseline = true)]
    public Task<TimeSpan> Ping() => _connection.GetDatabase().PingAsync();

    /// <summary>Publish, then wait for the handler.</summary>
    [Benchmark]
    public async Task PublishToHandler()
    {
        _signal.Received = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await _publisher.PublishAsync(new LatencyEvent(1));
        await _signal.Received.Task;
    }
}
