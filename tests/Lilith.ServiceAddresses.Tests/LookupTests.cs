namespace Lilith.ServiceAddresses.Tests;

public sealed class LookupTests
{
    private readonly ServiceRegistry _registry = TestRegistries.Fleet();

    [Fact]
    public void Lookups_return_the_registry_values()
    {
        Assert.Equal(8080, _registry.GetPort("api-gateway"));
        Assert.Equal(9082, _registry.GetPort("orders", "grpc"));
        Assert.Equal("127.0.0.1", _registry.GetHost("orders"));
        Assert.Equal(new Uri("postgres://localhost:5432/"), _registry.GetUrl("postgres"));
        Assert.True(_registry.TryGetPort("auth", out int port));
        Assert.Equal(8081, port);
        Assert.False(_registry.TryGetPort("nope", out _));
        Assert.False(_registry.TryGetHost("nope", out _));
        Assert.False(_registry.TryGetUrl("auth", "grpc", out _));
        Assert.True(_registry.TryGetUrl("orders", "grpc", out Uri? url));
        Assert.Equal(new Uri("grpc://127.0.0.1:9082/"), url);
        Assert.Equal(["api-gateway", "auth", "orders", "postgres"], _registry.Services.Select(s => s.Name));
        Assert.Equal(["edge", "public"], _registry.GetService("api-gateway").Tags);
    }

    [Fact]
    public void Unknown_service_names_it_and_the_closest_known_names()
    {
        var e = Assert.Throws<UnknownServiceException>(() => _registry.GetPort("api-gatway"));
        Assert.Equal("Unknown service 'api-gatway' in the service registry (environment 'development'). Did you mean 'api-gateway'?", e.Message);
        Assert.Equal(["api-gateway"], e.Suggestions);

        var none = Assert.Throws<UnknownServiceException>(() => _registry.GetHost("zzzzzzzzzz"));
        Assert.Empty(none.Suggestions);
        Assert.Equal("Unknown service 'zzzzzzzzzz' in the service registry (environment 'development').", none.Message);
    }

    [Fact]
    public void Unknown_scheme_names_the_known_ones()
    {
        var e = Assert.Throws<KeyNotFoundException>(() => _registry.GetPort("api-gateway", "grpc"));
        Assert.Equal("Service 'api-gateway' has no 'grpc' endpoint; it has 'http', 'https'.", e.Message);
    }

    [Fact]
    public void Dependencies_direct_transitive_and_start_order()
    {
        Assert.Equal(["auth", "orders"], _registry.GetDependencies("api-gateway"));
        Assert.Equal(["auth", "postgres", "orders"], _registry.GetDependencies("api-gateway", transitive: true));
        Assert.Empty(_registry.GetDependencies("postgres", transitive: true));
        Assert.Equal(["auth", "postgres", "orders", "api-gateway"], _registry.GetStartOrder());
        Assert.Equal(["auth", "postgres", "orders"], _registry.GetStartOrder("orders"));
    }

    [Fact]
    public void Configuration_entries_follow_the_service_discovery_layout()
    {
        Dictionary<string, string?> entries = _registry.ToConfiguration().ToDictionary();
        Assert.Equal("http://localhost:8080", entries["services:api-gateway:http:0"]);
        Assert.Equal("https://localhost:8443", entries["services:api-gateway:https:0"]);
        Assert.Equal("grpc://127.0.0.1:9082", entries["services:orders:grpc:0"]);
        Assert.Equal(6, entries.Count);
    }
}
