using BenchmarkDotNet.Attributes;
using Lilith.ServiceDiscovery;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace Lilith.Benchmarks.ServiceDiscovery;

/// <summary>
/// Register and heartbeat cost in round trips against one loopback PING (the baseline), and the cached resolve +
/// select, which needs no round trip and allocates nothing.
/// </summary>
[MemoryDiagnoser]
public class DiscoveryBenchmarks
{
    private static readonly ServiceInstance Instance = new() { Id = "bench-1", Host = "127.0.0.1", Port = 8080 };
    private BenchmarkRedis _redis = null!;
    private IConnectionMultiplexer _connection = null!;
    private ServiceProvider _services = null!;
    private IServiceRegistry _registry = null!;
    private IServiceResolver _resolver = null!;

    /// <summary>Starts Redis, registers three instances and warms the cache.</summary>
    [GlobalSetup]
    public async Task SetupAsync()
    {
        _redis = await BenchmarkRedis.StartAsync();
        _connection = await _redis.ConnectAsync();
        var services = new ServiceCollection();
        services.AddSingleton(_connection);
        services.AddServiceDiscovery(o => o.KeyPrefix = "bench-" + Guid.NewGuid().ToString("N")[..6]);
        _services = services.BuildServiceProvider();
        _registry = _services.GetRequiredService<IServiceRegistry>();
        _resolver = _services.GetRequiredService<IServiceResolver>();
        for (int i = 1; i <= 3; i++)
        {
            await _registry.RegisterAsync("bench", Instance with { Id = $"bench-{i}", Port = 8080 + i });
        }

        await _resolver.ResolveAsync("bench");
    }

    /// <summary>One loopback round trip.</summary>
    [Benchmark(Baseline = true)]
    public Task<TimeSpan> Ping() => _connection.GetDatabase().PingAsync();

    /// <summary>Re-register an unchanged instance (script + services touch).</summary>
    [Benchmark]
    public ValueTask Register() => _registry.RegisterAsync("bench", Instance with { Id = "bench-1", Port = 8081 });

    /// <summary>One heartbeat (one script).</summary>
    [Benchmark]
    public ValueTask<bool> Heartbeat() => _registry.HeartbeatAsync("bench", "bench-1");

    /// <summary>Cached resolve + round-robin select: no round trip.</summary>
    [Benchmark]
    public string CachedSelect()
    {
        using InstanceLease lease = _resolver.SelectAsync("bench").Result;
        return lease.Instance.Id;
    }

    /// <summary>Stops everything.</summary>
    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _services.DisposeAsync();
        await _connection.DisposeAsync();
        await _redis.DisposeAsync();
    }
}
