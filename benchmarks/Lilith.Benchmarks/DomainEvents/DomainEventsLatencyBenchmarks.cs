using BenchmarkDotNet.Attributes;
using Lilith.DomainEvents;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace Lilith.Benchmarks.DomainEvents;

/// <summary>
/// End-to-end latency on loopback Redis: publish one event and wait until its handler ran (hosted consumer blocked in
/// XREADGROUP BLOCK on its own connection). The anchor in the same run is the raw floor of that path through
/// StackExchange.Redis: XADD on the shared connection while an XREAD BLOCK waits on a dedicated one. Each iteration
/// is one operation (invocation count 1), so the percentile columns (P50, P95, P99) are the latency distribution.
/// A second Lilith row turns the default idempotency check (one more round trip before the handler) off, to show
/// its cost. Each row runs in a process of its own: in the host process, BenchmarkDotNet's own threads and the
/// other rows' leftovers shared the two cores with the consumer under test and put milliseconds into its tail.
/// Run without <c>--job</c>: the class sets its own job.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(Config))]
public class DomainEventsLatencyBenchmarks
{
    private BenchmarkRedis _redis = null!;
    private IConnectionMultiplexer _connection = null!;
    private IConnectionMultiplexer _blockingConnection = null!;
    private ServiceProvider _services = null!;
    private IDomainEventPublisher _publisher = null!;
    private Signal _signal = null!;
    private List<IHostedService> _hosted = null!;
    private RedisKey _rawKey;
    private RedisValue _lastRawId = "0-0";
    private readonly byte[] _rawEvent = """{"specversion":"1.0","id":"1","source":"/bench","type":"bench","data":{"n":1}}"""u8.ToArray();

    /// <summary>300 single-operation iterations after 20 warm-ups, every one counted; a process per row.</summary>
    private sealed class Config() : LatencyConfig("PerEvent", warmups: 20, operations: 300, inProcess: false);

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

    [GlobalSetup(Targets = [nameof(RawXaddToXreadBlock), nameof(PublishToHandler)])]
    public Task SetupWithCheckAsync() => SetupAsync(idempotencyCheck: true);

    [GlobalSetup(Target = nameof(PublishToHandlerWithoutIdempotencyCheck))]
    public Task SetupWithoutCheckAsync() => SetupAsync(idempotencyCheck: false);

    private async Task SetupAsync(bool idempotencyCheck)
    {
        _redis = await BenchmarkRedis.StartAsync();
        _connection = await _redis.ConnectAsync();
        _blockingConnection = await _redis.ConnectAsync();
        _rawKey = "bench:events:{raw-" + Guid.NewGuid().ToString("N") + "}";
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
            o.IdempotencyWindow = idempotencyCheck ? TimeSpan.FromMinutes(5) : null;
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
        await _blockingConnection.DisposeAsync();
        await _connection.DisposeAsync();
        await _redis.DisposeAsync();
    }

    /// <summary>The anchor: XADD, received by an XREAD BLOCK on a dedicated connection (after the last id read, so none is missed).</summary>
    [Benchmark(Baseline = true)]
    public async Task RawXaddToXreadBlock()
    {
        Task<RedisResult> read = _blockingConnection.GetDatabase().ExecuteAsync("XREAD", "COUNT", 1, "BLOCK", 5000, "STREAMS", _rawKey, _lastRawId);
        _lastRawId = await _connection.GetDatabase().StreamAddAsync(_rawKey, [new NameValueEntry("v", "1"), new NameValueEntry("event", _rawEvent)],
            maxLength: 100_000, useApproximateMaxLength: true);
        await read;
    }

    /// <summary>Publish, then wait for the handler (CloudEvent serialization, XADD, blocked XREADGROUP wakes, parse, dispatch, ack).</summary>
    [Benchmark]
    public Task PublishToHandler() => PublishAndWaitAsync();

    /// <summary>The same with <c>IdempotencyWindow = null</c>: no handled-marker check before the handler.</summary>
    [Benchmark]
    public Task PublishToHandlerWithoutIdempotencyCheck() => PublishAndWaitAsync();

    private async Task PublishAndWaitAsync()
    {
        _signal.Received = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await _publisher.PublishAsync(new LatencyEvent(1));
        await _signal.Received.Task;
    }
}
