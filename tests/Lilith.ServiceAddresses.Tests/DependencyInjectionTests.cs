using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.ServiceDiscovery;
using StackExchange.Redis;

namespace Lilith.ServiceAddresses.Tests;

public sealed class DependencyInjectionTests(RedisFixture redis)
{
    private static HostApplicationBuilder NewBuilder(params (string Key, string Value)[] settings)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)));
        return builder;
    }

    [Fact]
    public async Task AddServiceAddresses_from_a_file_gives_the_registry_of_the_environment()
    {
        HostApplicationBuilder builder = NewBuilder();
        builder.Services.AddServiceAddresses(TestRegistries.Path("fleet.yaml"), o => o.Environment = "production");
        builder.Services.AddServiceAddresses(TestRegistries.Path("fleet.yaml")); // a second call adds nothing twice
        using IHost host = builder.Build();
        await host.StartAsync(TestContext.Current.CancellationToken);

        IServiceAddresses addresses = host.Services.GetRequiredService<IServiceAddresses>();
        Assert.Equal("production", addresses.Environment);
        Assert.Equal(80, addresses.GetPort("api-gateway"));
        Assert.Single(host.Services.GetServices<IServiceAddresses>());
        await host.StopAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task A_bad_registry_fails_the_host_start_with_every_error()
    {
        string path = Path.Combine(Path.GetTempPath(), $"registry-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(path, "services:\n  api-gateway:\n    port: 70000\n  web:\n    port: 81\n    dependencies: [web, ghost]\n", TestContext.Current.CancellationToken);
        try
        {
            HostApplicationBuilder builder = NewBuilder();
            builder.Services.AddServiceAddresses(path);
            using IHost host = builder.Build();
            var e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));
            Assert.Equal(
                [
                    $"The service registry {path} has 3 errors:",
                    "services.api-gateway.port: 70000 is not in 1..65535",
                    "services.web.dependencies[0]: 'web' depends on itself",
                    "services.web.dependencies[1]: unknown service 'ghost'",
                ],
                e.Failures);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Bad_options_fail_the_start_naming_option_and_value()
    {
        HostApplicationBuilder builder = NewBuilder(("ServiceAddresses:ClaimTtl", "soon"), ("ServiceAddresses:KeyPrefix", "bad prefix"));
        builder.Services.AddServiceAddresses();
        using IHost host = builder.Build();
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));
        Assert.Contains("ServiceAddresses:ClaimTtl: 'soon' is not a duration (hh:mm:ss)", e.Failures);
        Assert.Contains(e.Failures, f => f.StartsWith("ServiceAddresses:KeyPrefix: 'bad prefix' is not a valid key prefix.", StringComparison.Ordinal));
        Assert.Contains(e.Failures, f => f.StartsWith("ServiceAddresses:RegistryPath: no registry", StringComparison.Ordinal));
    }

    [Fact]
    public void Configuration_and_environment_variables_override_the_file()
    {
        HostApplicationBuilder builder = NewBuilder(
            ("ServiceAddresses:RegistryPath", TestRegistries.Path("fleet.json")),
            ("ServiceAddresses:Environment", "Staging"),
            ("ServiceAddresses:Overrides:auth:Port", "9999"),
            ("ServiceAddresses:Overrides:orders:Host", "orders.local"));
        builder.Services.AddServiceAddresses();
        using IHost host = builder.Build();
        IServiceAddresses addresses = host.Services.GetRequiredService<IServiceAddresses>();
        Assert.Equal("staging", addresses.Environment);
        Assert.Equal(9999, addresses.GetPort("auth"));
        Assert.Equal("orders.local", addresses.GetHost("orders"));
    }

    [Fact]
    public void Configuration_overrides_are_validated_like_the_file()
    {
        HostApplicationBuilder builder = NewBuilder(
            ("ServiceAddresses:RegistryPath", TestRegistries.Path("fleet.yaml")),
            ("ServiceAddresses:Environment", "development"),
            ("ServiceAddresses:Overrides:auth:Port", "8080"),
            ("ServiceAddresses:Overrides:ordrs:Port", "1"));
        builder.Services.AddServiceAddresses();
        using IHost host = builder.Build();
        var e = Assert.Throws<OptionsValidationException>(() => host.Services.GetRequiredService<IOptions<ServiceAddressesOptions>>().Value);
        Assert.Contains("ServiceAddresses:Overrides.ordrs: unknown service 'ordrs' (did you mean 'orders'?)", e.Failures);
        Assert.Contains("ServiceAddresses:Overrides.auth.port: localhost:8080 is used by both api-gateway (http) and auth (http) in environment 'development'", e.Failures);
    }

    [Fact]
    public void The_registry_can_live_in_a_configuration_section()
    {
        HostApplicationBuilder builder = NewBuilder(
            ("Fleet:Environment", "production"),
            ("Fleet:Registry:services:api:port", "8000"),
            ("Fleet:Registry:services:api:dependencies:0", "db"),
            ("Fleet:Registry:services:db:port", "5432"),
            ("Fleet:Registry:environments:production:api:host", "api.prod"));
        builder.Services.AddServiceAddresses(builder.Configuration.GetSection("Fleet"));
        using IHost host = builder.Build();
        IServiceAddresses addresses = host.Services.GetRequiredService<IServiceAddresses>();
        Assert.Equal(new Uri("http://api.prod:8000/"), addresses.GetUrl("api"));
        Assert.Equal(["db", "api"], addresses.GetStartOrder());
    }

    [Fact]
    public async Task The_redis_backend_is_used_when_configured()
    {
        string prefix = RedisFixture.NewPrefix();
        HostApplicationBuilder builder = NewBuilder();
        builder.Services.AddSingleton(await redis.ConnectionAsync());
        builder.Services.AddServiceAddresses(TestRegistries.Path("fleet.yaml"), o =>
        {
            o.Backend = ServiceAddressesBackend.Redis;
            o.KeyPrefix = prefix;
            o.Environment = "development";
        });
        using IHost host = builder.Build();
        IServiceAddressStore store = host.Services.GetRequiredService<IServiceAddressStore>();
        Assert.Equal(1, await store.PublishAsync(host.Services.GetRequiredService<IServiceAddresses>(), TestContext.Current.CancellationToken));
        IDatabase db = (await redis.ConnectionAsync()).GetDatabase();
        Assert.True(await db.KeyExistsAsync($"{prefix}:addresses:{{development}}:registry"));
    }

    [Fact]
    public async Task A_registered_multiplexer_and_no_backend_option_give_the_redis_backend()
    {
        string prefix = RedisFixture.NewPrefix();
        HostApplicationBuilder builder = NewBuilder();
        builder.Services.AddSingleton(await redis.ConnectionAsync());
        builder.Services.AddServiceAddresses(TestRegistries.Path("fleet.yaml"), o =>
        {
            o.KeyPrefix = prefix;
            o.Environment = "development";
        });
        using IHost host = builder.Build();
        await host.StartAsync(TestContext.Current.CancellationToken);
        IServiceAddressStore store = host.Services.GetRequiredService<IServiceAddressStore>();
        await store.PublishAsync(host.Services.GetRequiredService<IServiceAddresses>(), TestContext.Current.CancellationToken);
        IDatabase db = (await redis.ConnectionAsync()).GetDatabase();
        Assert.True(await db.KeyExistsAsync($"{prefix}:addresses:{{development}}:registry"), "the store ran in memory although Redis was configured");
    }

    [Fact]
    public void With_no_connection_and_no_backend_the_store_is_refused_naming_the_option_but_the_registry_works()
    {
        HostApplicationBuilder builder = NewBuilder();
        builder.Services.AddServiceAddresses(TestRegistries.Path("fleet.yaml"), o => o.Environment = "production");
        using IHost host = builder.Build();
        Assert.Equal(80, host.Services.GetRequiredService<IServiceAddresses>().GetPort("api-gateway"));
        InvalidOperationException refused = Assert.Throws<InvalidOperationException>(() => host.Services.GetRequiredService<IServiceAddressStore>());
        Assert.StartsWith("ServiceAddresses:Backend: no backend is chosen and no Redis connection is configured.", refused.Message, StringComparison.Ordinal);

        HostApplicationBuilder inMemory = NewBuilder();
        inMemory.Services.AddServiceAddresses(TestRegistries.Path("fleet.yaml"), o => o.Backend = ServiceAddressesBackend.InMemory);
        using IHost asked = inMemory.Build();
        Assert.NotNull(asked.Services.GetRequiredService<IServiceAddressStore>());
    }

    [Fact]
    public async Task Service_discovery_resolves_http_api_gateway_from_this_package()
    {
        HostApplicationBuilder builder = NewBuilder();
        builder.Configuration.AddServiceAddresses(TestRegistries.Path("fleet.yaml"), "production");
        builder.Services.AddServiceAddresses(TestRegistries.Path("fleet.yaml"), o => o.Environment = "production");
        builder.Services.AddServiceDiscovery();
        var recorder = new RecordingHandler();
        builder.Services.AddHttpClient("gateway")
            .ConfigurePrimaryHttpMessageHandler(() => recorder)
            .AddServiceDiscovery();
        using IHost host = builder.Build();
        await host.StartAsync(TestContext.Current.CancellationToken);

        HttpClient client = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("gateway");
        using HttpResponseMessage response = await client.GetAsync(new Uri("http://api-gateway/health"), TestContext.Current.CancellationToken);
        Assert.Equal(new Uri("http://gateway.internal:80/health"), recorder.Seen.Single());

        using HttpResponseMessage secure = await client.GetAsync(new Uri("https://api-gateway/health"), TestContext.Current.CancellationToken);
        Assert.Equal(new Uri("https://gateway.internal:443/health"), recorder.Seen.Last());
        await host.StopAsync(TestContext.Current.CancellationToken);
    }

    private sealed class RecordingHandler : HttpMessageHandler
    {
        public List<Uri> Seen { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Seen.Add(request.RequestUri!);
            return Task.FromResult(new HttpResponseMessage(System.Net.HttpStatusCode.OK));
        }
    }
}
