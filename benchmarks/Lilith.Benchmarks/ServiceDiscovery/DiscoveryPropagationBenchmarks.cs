using BenchmarkDotNet.Attributes;
using Lilith.ServiceDiscovery;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace Lilith.Benchmarks.ServiceDiscovery;

/// <summary>
/// Change propagation: one client registers (a changed instance, so an event is published), another client on its own
/// connection awaits the registered event from <see cref="IServiceResolver.WatchAsync"/>. Baseline: a bare PUBLISH from one
/// connection received by a subscriber on another (the physical floor). Each iteration is one operation, so the
/// percentile columns are per-change latencies. Goal: p99 under 10 ms on loopback.
/// The class fixes its own job (500 single-operation iterations); run it without <c>--job</c>.
/// </summary>
[Config(typeof(PerChangeConfig))]
public class DiscoveryPropagationBenchmarks
{
    private static readonly RedisChannel Channel = RedisChannel.Literal("bench-propagation");
    private BenchmarkRedis _redis = null!;
    private readonly List<IConnectionMultiplexer> _connections = [];
    private ServiceProvider _registrar = null!;
    private ServiceProvider _watcher = null!;
    private IServiceRegistry _registry = null!;
    private IAsyncEnumerator<DiscoveryEvent> _events = null!;
    private CancellationTokenSource _stop = null!;
    private ChannelMessageQueue _queue = null!;
    private ISubscriber _publisher = null!;
    private int _port = 9000;

    /// <summary>Two discovery clients and two raw connections, each on its own connection.</summary>
    [GlobalSetup]
    public async Task SetupAsync()
    {
        _redis = await BenchmarkRedis.StartAsync();
        string prefix = "bench-" + Guid.NewGuid().ToString("N")[..6];
        _registrar = await ClientAsync(prefix);
        _watcher = await ClientAsync(prefix);
        _registry = _registrar.GetRequiredService<IServiceRegistry>();
        IServiceResolver resolver = _watcher.GetRequiredService<IServiceResolver>();
        _stop = new CancellationTokenSource();
        _events = resolver.WatchAsync("propagation", _stop.Token).GetAsyncEnumerator(_stop.Token);

        // The watch is live once it yields an event: register until the first one arrives.
        ValueTask<bool> first = _events.MoveNextAsync();
        await RegisterNextAsync();
        await first;

        _publisher = (await ConnectAsync()).GetSubscriber();
        _queue = await (await ConnectAsync()).GetSubscriber().SubscribeAsync(Channel);
        await _publisher.PublishAsync(Channel, "warm");
        await _queue.ReadAsync();
    }

    /// <summary>PUBLISH on one connection, received by a subscriber on another.</summary>
    [Benchmark(Baseline = true)]
    public async Task PublishToSubscriber()
    {
        ValueTask<ChannelMessage> received = _queue.ReadAsync();
        await _publisher.PublishAsync(Channel, "x");
        await received;
    }

    /// <summary>Register on one client until the registered event reaches the other client's watcher.</summary>
    [Benchmark]
    public async Task RegisterToEvent()
    {
        ValueTask<bool> received = _events.MoveNextAsync();
        await RegisterNextAsync();
        if (!await received || _events.Current.Kind != DiscoveryEventKind.Registered)
        {
            throw new InvalidOperationException($"Expected a registered event, got {_events.Current}.");
        }
    }

    private ValueTask RegisterNextAsync() =>
        _registry.RegisterAsync("propagation", new ServiceInstance { Id = "p-1", Host = "127.0.0.1", Port = ++_port > 60000 ? _port = 9000 : _port });

    private async Task<IConnectionMultiplexer> ConnectAsync()
    {
        IConnectionMultiplexer connection = await _redis.ConnectAsync();
        _connections.Add(connection);
        return connection;
    }

    private async Task<ServiceProvider> ClientAsync(string prefix)
    {
        var services = new ServiceCollection();
        services.AddSingleton(await ConnectAsync());
        services.AddServiceDiscovery(o => o.KeyPrefix = prefix);
        return services.BuildServiceProvider();
    }

    /// <summary>Stops everything.</summary>
    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _stop.CancelAsync();
        await _events.DisposeAsync();
        await _registrar.DisposeAsync();
        await _watcher.DisposeAsync();
        foreach (IConnectionMultiplexer connection in _connections)
        {
            await connection.DisposeAsync();
        }

        await _redis.DisposeAsync();
        _stop.Dispose();
    }

    /// <summary>500 single-operation iterations after 50 warm-ups, every one counted.</summary>
    private sealed class PerChangeConfig() : LatencyConfig("PerChange", warmups: 50, operations: 500, inProcess: false);
}
