using BenchmarkDotNet.Attributes;
using Lilith.ServiceDiscovery;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.ServiceDiscovery;
using StackExchange.Redis;

namespace Lilith.Benchmarks.ServiceDiscovery;

/// <summary>
/// Resolve + select of one of three instances, warm: Microsoft.Extensions.ServiceDiscovery's configuration provider
/// (<c>services:api-gateway:http:0..2</c>, through <see cref="ServiceEndpointResolver"/>, the baseline) against the Lilith
/// client's cache (registered on a loopback Redis), and Microsoft's resolver fed by the Lilith provider. Goal: Lilith at least
/// as fast as the baseline, 0 bytes per select.
/// </summary>
[MemoryDiagnoser]
public class DiscoveryResolveBenchmarks
{
    private const string Address = "http://api-gateway";
    private BenchmarkRedis _redis = null!;
    private IConnectionMultiplexer _connection = null!;
    private ServiceProvider _microsoft = null!;
    private ServiceProvider _lilith = null!;
    private ServiceEndpointResolver _microsoftResolver = null!;
    private ServiceEndpointResolver _microsoftOverLilith = null!;
    private IServiceResolver _resolver = null!;
    private uint _next;

    /// <summary>Configures the three endpoints both ways and warms both caches.</summary>
    [GlobalSetup]
    public async Task SetupAsync()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["services:api-gateway:http:0"] = "http://127.0.0.1:8081",
            ["services:api-gateway:http:1"] = "http://127.0.0.1:8082",
            ["services:api-gateway:http:2"] = "http://127.0.0.1:8083",
        }).Build();
        var microsoft = new ServiceCollection();
        microsoft.AddSingleton<IConfiguration>(configuration);
        microsoft.AddServiceDiscovery();
        _microsoft = microsoft.BuildServiceProvider();
        _microsoftResolver = _microsoft.GetRequiredService<ServiceEndpointResolver>();

        _redis = await BenchmarkRedis.StartAsync();
        _connection = await _redis.ConnectAsync();
        var lilith = new ServiceCollection();
        lilith.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        lilith.AddSingleton(_connection);
        lilith.AddServiceDiscovery((DiscoveryOptions o) => o.KeyPrefix = "bench-" + Guid.NewGuid().ToString("N")[..6]);
        lilith.AddServiceDiscovery();
        lilith.AddLilithServiceEndpointProvider();
        _lilith = lilith.BuildServiceProvider();
        _resolver = _lilith.GetRequiredService<IServiceResolver>();
        _microsoftOverLilith = _lilith.GetRequiredService<ServiceEndpointResolver>();
        IServiceRegistry registry = _lilith.GetRequiredService<IServiceRegistry>();
        for (int i = 1; i <= 3; i++)
        {
            await registry.RegisterAsync("api-gateway", new ServiceInstance { Id = $"gw-{i}", Host = "127.0.0.1", Port = 8080 + i });
        }

        if ((await _resolver.ResolveAsync("api-gateway")).Count != 3 ||
            (await _microsoftResolver.GetEndpointsAsync(Address, default)).Endpoints.Count != 3 ||
            (await _microsoftOverLilith.GetEndpointsAsync(Address, default)).Endpoints.Count != 3)
        {
            throw new InvalidOperationException("Setup: every resolver must see the three endpoints.");
        }
    }

    /// <summary>Microsoft: cached endpoints from configuration, then the next one in turn.</summary>
    [Benchmark(Baseline = true)]
    public ServiceEndpoint MicrosoftConfiguration() => Pick(_microsoftResolver.GetEndpointsAsync(Address, default));

    /// <summary>Lilith: cached resolve + round-robin select (the lease released at once).</summary>
    [Benchmark]
    public ServiceInstance LilithSelect()
    {
        using InstanceLease lease = _resolver.SelectAsync("api-gateway").Result;
        return lease.Instance;
    }

    /// <summary>Lilith: cached resolve, then the next one in turn (same selection as the baseline).</summary>
    [Benchmark]
    public ServiceInstance LilithResolve()
    {
        IReadOnlyList<ServiceInstance> all = _resolver.ResolveAsync("api-gateway").Result;
        return all[(int)(_next++ % (uint)all.Count)];
    }

    /// <summary>Microsoft's resolver over the Lilith provider: what <c>http://api-gateway</c> in an HttpClient pays.</summary>
    [Benchmark]
    public ServiceEndpoint MicrosoftOverLilith() => Pick(_microsoftOverLilith.GetEndpointsAsync(Address, default));

    private ServiceEndpoint Pick(ValueTask<ServiceEndpointSource> resolving)
    {
        ServiceEndpointSource source = resolving.IsCompletedSuccessfully ? resolving.Result : resolving.AsTask().GetAwaiter().GetResult();
        return source.Endpoints[(int)(_next++ % (uint)source.Endpoints.Count)];
    }

    /// <summary>Stops everything.</summary>
    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _microsoft.DisposeAsync();
        await _lilith.DisposeAsync();
        await _connection.DisposeAsync();
        await _redis.DisposeAsync();
    }
}
