using Lilith.ServiceDiscovery.Internal;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Primitives;
using Microsoft.Extensions.ServiceDiscovery;
using Microsoft.Extensions.Time.Testing;

namespace Lilith.ServiceDiscovery.Tests;

/// <summary>Lilith discovery behind Microsoft.Extensions.ServiceDiscovery: HttpClient resolution, change tokens, schemes, named endpoints.</summary>
public sealed class EndpointProviderTests(RedisFixture redis)
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(10);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task HttpClient_with_Microsoft_resolver_reaches_the_registered_instance_and_follows_changes(bool microsoftRegisteredFirst)
    {
        string prefix = RedisFixture.NewPrefix();
        await using var serverA = LoopbackHttpServer.Start("A");
        await using var serverB = LoopbackHttpServer.Start("B");

        // The gateway's instances are registered by another process's client, on its own connection.
        await using ServiceProvider gateway = LilithClient(new ServiceCollection(), await redis.NewConnectionAsync(), prefix).BuildServiceProvider();
        IServiceRegistry registry = gateway.GetRequiredService<IServiceRegistry>();
        await registry.RegisterAsync("api-gateway", new ServiceInstance { Id = "gw-a", Host = "127.0.0.1", Port = serverA.Port }, Ct);

        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        if (microsoftRegisteredFirst)
        {
            services.AddServiceDiscovery();
        }

        LilithClient(services, await redis.NewConnectionAsync(), prefix);
        services.AddLilithServiceEndpointProvider();
        if (!microsoftRegisteredFirst)
        {
            services.AddServiceDiscovery();
        }

        services.AddHttpClient("gateway", c => c.BaseAddress = new Uri("http://api-gateway")).AddServiceDiscovery();
        await using ServiceProvider app = services.BuildServiceProvider();
        HttpClient http = app.GetRequiredService<IHttpClientFactory>().CreateClient("gateway");
        ServiceEndpointResolver resolver = app.GetRequiredService<ServiceEndpointResolver>();

        Assert.Equal("A", await http.GetStringAsync("/who", Ct));
        Assert.Equal(1, serverA.Requests);
        ServiceEndpointSource first = await resolver.GetEndpointsAsync("http://api-gateway", Ct);
        Assert.Equal([new Uri($"http://127.0.0.1:{serverA.Port}/")], Uris(first));
        Assert.False(first.ChangeToken.HasChanged);

        // Deregistered: the token fires, and the next resolution no longer holds gw-a.
        Assert.True(await registry.DeregisterAsync("api-gateway", "gw-a", Ct));
        await Eventually.TrueAsync(() => first.ChangeToken.HasChanged, Within, "change token fired by the deregistered event");
        ServiceEndpointSource gone = await resolver.GetEndpointsAsync("http://api-gateway", Ct);
        Assert.DoesNotContain(new Uri($"http://127.0.0.1:{serverA.Port}/"), Uris(gone));

        // A new instance registered: that token fires too, and the very next request goes to it.
        await registry.RegisterAsync("api-gateway", new ServiceInstance { Id = "gw-b", Host = "127.0.0.1", Port = serverB.Port }, Ct);
        await Eventually.TrueAsync(() => gone.ChangeToken.HasChanged, Within, "change token fired by the registered event");
        Assert.Equal([new Uri($"http://127.0.0.1:{serverB.Port}/")], Uris(await resolver.GetEndpointsAsync("http://api-gateway", Ct)));
        Assert.Equal("B", await http.GetStringAsync("/who", Ct));
        Assert.Equal("B", await http.GetStringAsync("/who", Ct));
        Assert.Equal((1, 2), (serverA.Requests, serverB.Requests));
    }

    [Fact]
    public async Task Change_token_fires_on_health_change_and_expires_after_the_refresh_interval()
    {
        var time = new FakeTimeProvider();
        await using ServiceProvider sp = InMemory(time);
        IServiceRegistry registry = sp.GetRequiredService<IServiceRegistry>();
        await registry.RegisterAsync("api-gateway", new ServiceInstance { Id = "gw-1", Host = "10.0.0.1", Port = 8081 }, Ct);
        await registry.RegisterAsync("api-gateway", new ServiceInstance { Id = "gw-2", Host = "10.0.0.2", Port = 8082 }, Ct);
        IServiceEndpointProvider provider = CreateProvider(sp, "http://api-gateway");

        // No event: the token still expires, at the refresh interval and not before.
        Builder quiet = await PopulateAsync(provider);
        Assert.Equal(2, quiet.Endpoints.Count);
        time.Advance(TimeSpan.FromSeconds(10) - TimeSpan.FromMilliseconds(1));
        Assert.False(quiet.HasChanged);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(quiet.HasChanged);

        // A health change (critical) fires the token; the next populate leaves the instance out.
        Builder before = await PopulateAsync(provider);
        Assert.False(before.HasChanged);
        Assert.True(await registry.SetHealthAsync("api-gateway", "gw-1", InstanceHealth.Critical, Ct));
        await Eventually.TrueAsync(() => before.HasChanged, Within, "token fired by health-changed");
        Builder after = await PopulateAsync(provider);
        Assert.Equal([new Uri("http://10.0.0.2:8082/")], after.Endpoints.Select(e => ((UriEndPoint)e.EndPoint).Uri));
        Assert.Equal("gw-2", after.Endpoints[0].Features.Get<ServiceInstance>()!.Id);
        await provider.DisposeAsync();
    }

    [Fact]
    public async Task Schemes_are_preferred_in_query_order_and_named_endpoints_select_by_tag()
    {
        await using ServiceProvider sp = InMemory(TimeProvider.System);
        IServiceRegistry registry = sp.GetRequiredService<IServiceRegistry>();
        await registry.RegisterAsync("api", new ServiceInstance { Id = "plain", Host = "10.0.0.1", Port = 80 }, Ct);
        await registry.RegisterAsync("api", new ServiceInstance { Id = "tls", Host = "10.0.0.2", Port = 443, Scheme = "https" }, Ct);
        await registry.RegisterAsync("api", new ServiceInstance { Id = "rpc", Host = "10.0.0.3", Port = 5001, Tags = ["grpc"] }, Ct);

        Assert.Equal(["http://10.0.0.1/", "http://10.0.0.3:5001/"], await UrisAsync(sp, "http://api"));
        Assert.Equal(["https://10.0.0.2/"], await UrisAsync(sp, "https+http://api"));
        Assert.Equal(["http://10.0.0.1/", "http://10.0.0.3:5001/"], await UrisAsync(sp, "ftp+http://api"));
        Assert.Equal(["http://10.0.0.3:5001/"], await UrisAsync(sp, "http://_grpc.api"));
        Assert.Empty(await UrisAsync(sp, "http://nobody"));

        // IP addresses are not service names: left to the other providers.
        Assert.True(ServiceEndpointQuery.TryParse("http://127.0.0.1:8080", out ServiceEndpointQuery? ip));
        Assert.False(sp.GetServices<IServiceEndpointProviderFactory>().Single().TryCreateProvider(ip!, out _));

        // An earlier provider's answer (a configuration override) is kept as it is.
        var builder = new Builder();
        builder.Endpoints.Add(ServiceEndpoint.Create(new UriEndPoint(new Uri("http://override:1"))));
        await CreateProvider(sp, "http://api").PopulateAsync(builder, Ct);
        Assert.Single(builder.Endpoints);
    }

    [Theory]
    [InlineData(true, "http://override:1/")]
    [InlineData(false, "http://10.0.0.1:8081/")]
    public async Task Registration_order_decides_whether_configuration_overrides_the_registry(bool microsoftFirst, string expected)
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["services:api:http:0"] = "http://override:1" }).Build());
        if (microsoftFirst)
        {
            services.AddServiceDiscovery();
        }

        services.AddInMemoryServiceDiscovery(o => o.KeyPrefix = RedisFixture.NewPrefix());
        services.AddLilithServiceEndpointProvider();
        if (!microsoftFirst)
        {
            services.AddServiceDiscovery();
        }

        await using ServiceProvider sp = services.BuildServiceProvider();
        await sp.GetRequiredService<IServiceRegistry>().RegisterAsync("api", new ServiceInstance { Id = "api-1", Host = "10.0.0.1", Port = 8081 }, Ct);
        ServiceEndpointSource source = await sp.GetRequiredService<ServiceEndpointResolver>().GetEndpointsAsync("http://api", Ct);
        Assert.Equal([new Uri(expected)], Uris(source));
    }

    [Fact]
    public async Task Registration_needs_Lilith_discovery_says_so_and_adds_nothing_twice()
    {
        var services = new ServiceCollection();
        services.AddLilithServiceEndpointProvider();
        services.AddLilithServiceEndpointProvider();
        Assert.Single(services, d => d.ServiceType == typeof(IServiceEndpointProviderFactory));
        await using ServiceProvider sp = services.BuildServiceProvider();
        var e = Assert.Throws<InvalidOperationException>(() => sp.GetServices<IServiceEndpointProviderFactory>().ToList());
        Assert.Contains("AddServiceDiscovery(o => ...)", e.Message, StringComparison.Ordinal);
    }

    private static IServiceCollection LilithClient(IServiceCollection services, StackExchange.Redis.IConnectionMultiplexer connection, string prefix)
    {
        services.AddSingleton(connection);
        services.AddServiceDiscovery((DiscoveryOptions o) =>
        {
            o.KeyPrefix = prefix;
            o.Ttl = TimeSpan.FromSeconds(2);
            o.HeartbeatInterval = TimeSpan.FromMilliseconds(500);
            o.SweepInterval = TimeSpan.FromMilliseconds(250);
        });
        return services;
    }

    private static ServiceProvider InMemory(TimeProvider time)
    {
        var services = new ServiceCollection();
        services.AddSingleton(time);
        services.AddInMemoryServiceDiscovery(o =>
        {
            o.KeyPrefix = RedisFixture.NewPrefix();
            o.RefreshInterval = TimeSpan.FromSeconds(10);
        });
        services.AddLilithServiceEndpointProvider();
        return services.BuildServiceProvider();
    }

    private static IServiceEndpointProvider CreateProvider(IServiceProvider sp, string address)
    {
        Assert.True(ServiceEndpointQuery.TryParse(address, out ServiceEndpointQuery? query));
        IServiceEndpointProviderFactory factory = Assert.IsType<DiscoveryEndpointProviderFactory>(sp.GetServices<IServiceEndpointProviderFactory>().Single());
        Assert.True(factory.TryCreateProvider(query!, out IServiceEndpointProvider? provider));
        return provider!;
    }

    private static async Task<Builder> PopulateAsync(IServiceEndpointProvider provider)
    {
        var builder = new Builder();
        await provider.PopulateAsync(builder, Ct);
        return builder;
    }

    private static async Task<string[]> UrisAsync(IServiceProvider sp, string address)
    {
        await using IServiceEndpointProvider provider = CreateProvider(sp, address);
        return (await PopulateAsync(provider)).Endpoints.Select(e => ((UriEndPoint)e.EndPoint).Uri.ToString()).ToArray();
    }

    private static Uri[] Uris(ServiceEndpointSource source) =>
        source.Endpoints.Select(e => e.EndPoint).OfType<UriEndPoint>().Select(e => e.Uri).ToArray();

    /// <summary>What Microsoft's watcher hands each provider: the endpoints so far and the change tokens to combine.</summary>
    private sealed class Builder : IServiceEndpointBuilder
    {
        private readonly List<IChangeToken> _tokens = [];

        public IList<ServiceEndpoint> Endpoints { get; } = new List<ServiceEndpoint>();

        public IFeatureCollection Features { get; } = new FeatureCollection();

        public bool HasChanged => _tokens.Any(t => t.HasChanged);

        public void AddChangeToken(IChangeToken changeToken) => _tokens.Add(changeToken);
    }
}
