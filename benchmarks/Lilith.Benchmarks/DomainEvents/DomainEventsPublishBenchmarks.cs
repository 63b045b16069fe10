using BenchmarkDotNet.Attributes;
using Lilith.DomainEvents;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace Lilith.Benchmarks.DomainEvents;

/// <summary>
/// Publishing 1,000 events: <see cref="IDomainEventPublisher.PublishBatchAsync"/> (serializes each CloudEvent, pipelined
/// XADD with MAXLEN ~, waits for every reply) against raw pipelined XADD of the same bytes through StackExchange.Redis.
/// </summary>
[MemoryDiagnoser]
public class DomainEventsPublishBenchmarks
{
    private const int Count = 1000;
    private BenchmarkRedis _redis = null!;
    private IConnectionMultiplexer _connection = null!;
    private ServiceProvider _services = null!;
    private IDomainEventPublisher _publisher = null!;
    private List<CloudEvent> _events = null!;
    private byte[][] _bytes = null!;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _redis = await BenchmarkRedis.StartAsync();
        _connection = await _redis.ConnectAsync();
        var services = new ServiceCollection();
        services.AddSingleton(_connection);
        services.AddDomainEvents(o =>
        {
            o.Transport = DomainEventTransport.Redis;
            o.KeyPrefix = "bench";
            o.Stream = "publish";
            o.MaxStreamLength = 100_000;
        });
        _services = services.BuildServiceProvider();
        _publisher = _services.GetRequiredService<IDomainEventPublisher>();
        DateTimeOffset time = TimeProvider.System.GetUtcNow();
        _events = Enumerable.Range(0, Count).Select(i => new CloudEvent
        {
            Id = Guid.NewGuid().ToString(),
            Source = "/bench",
            Type = "com.example.order.placed.v1",
            DataContentType = "application/json",
            Time = time,
            Data = System.Text.Json.JsonSerializer.SerializeToElement(new { orderId = $"o-{i}", total = 42.5m }),
        }).ToList();
        _bytes = _events.Select(e => e.ToUtf8Json()).ToArray();
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _services.DisposeAsync();
        await _connection.DisposeAsync();
        await _redis.DisposeAsync();
    }

    /// <summary>The anchor: 1,000 pipelined XADD of the same bytes, awaiting every reply.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Count)]
    public async Task RawPipelinedXadd()
    {
        IDatabase db = _connection.GetDatabase();
        var tasks = new Task[Count];
        for (int i = 0; i < Count; i++)
        {
            tasks[i] = db.StreamAddAsync("bench:events:{raw}", [new NameValueEntry("v", "1"), new NameValueEntry("event", _bytes[i])],
                maxLength: 100_000, useApproximateMaxLength: true);
        }

        await Task.WhenAll(tasks);
    }

    /// <summary>The same 1,000 events through the publisher (serialization included).</summary>
    [Benchmark(OperationsPerInvoke = Count)]
    public ValueTask PublishBatch() => _publisher.PublishBatchAsync(_events);
}
