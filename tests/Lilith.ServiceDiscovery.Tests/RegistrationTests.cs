using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.ServiceDiscovery;

namespace Lilith.ServiceDiscovery.Tests;

/// <summary>DI registration, options validation, the hosted self-registration, and coexistence with Microsoft.Extensions.ServiceDiscovery.</summary>
public sealed class RegistrationTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Both_AddServiceDiscovery_extensions_compile_and_register_side_by_side()
    {
        // Both namespaces are imported (Microsoft.Extensions.DependencyInjection and Lilith.ServiceDiscovery): no ambiguity.
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddServiceDiscovery();
        services.AddServiceDiscovery(o => o.ConnectionString = "127.0.0.1:1");
        services.AddServiceDiscovery((DiscoveryOptions o) =>
        {
            o.KeyPrefix = "coexist";
            o.Ttl = TimeSpan.FromSeconds(10);
        });
        await using ServiceProvider provider = services.BuildServiceProvider();

        Assert.NotNull(provider.GetService<ServiceEndpointResolver>());
        Assert.NotNull(provider.GetService<IServiceResolver>());
        DiscoveryOptions options = provider.GetRequiredService<IOptions<DiscoveryOptions>>().Value;
        Assert.Equal(("coexist", TimeSpan.FromSeconds(10)), (options.KeyPrefix, options.Ttl));
    }

    [Fact]
    public void Calling_twice_adds_nothing_twice()
    {
        var services = new ServiceCollection();
        services.AddInMemoryServiceDiscovery();
        services.AddInMemoryServiceDiscovery();
        Assert.Single(services, d => d.ServiceType == typeof(IServiceRegistry));
        Assert.Single(services, d => d.ServiceType == typeof(IHostedService));
    }

    [Fact]
    public void Bad_options_fail_at_start_naming_option_and_value()
    {
        var services = new ServiceCollection();
        services.AddInMemoryServiceDiscovery(o =>
        {
            o.KeyPrefix = "bad prefix!";
            o.Ttl = TimeSpan.FromMilliseconds(50);
            o.ServiceName = "orders";
        });
        using ServiceProvider provider = services.BuildServiceProvider();
        var e = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());
        Assert.Contains("DiscoveryOptions.KeyPrefix: 'bad prefix!'", e.Message, StringComparison.Ordinal);
        Assert.Contains("DiscoveryOptions.Ttl: '00:00:00.0500000'", e.Message, StringComparison.Ordinal);
        Assert.Contains("DiscoveryOptions.Instance: null, but ServiceName is 'orders'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Hosted_service_registers_self_on_start_and_deregisters_on_stop()
    {
        string prefix = RedisFixture.NewPrefix();
        var services = new ServiceCollection();
        services.AddInMemoryServiceDiscovery(o =>
        {
            o.KeyPrefix = prefix;
            o.ServiceName = "self";
            o.Instance = new ServiceInstance { Id = "self-1", Host = "127.0.0.1", Port = 5000 };
        });
        await using ServiceProvider provider = services.BuildServiceProvider();
        IHostedService hosted = Assert.Single(provider.GetServices<IHostedService>());
        IServiceResolver resolver = provider.GetRequiredService<IServiceResolver>();

        await hosted.StartAsync(Ct);
        Assert.Equal("self-1", Assert.Single(await resolver.ResolveAsync("self", cancellationToken: Ct)).Id);
        await hosted.StopAsync(Ct);
        await Eventually.TrueAsync(async () => (await resolver.ResolveAsync("self", cancellationToken: Ct)).Count == 0, TimeSpan.FromSeconds(5), "deregistered on stop");
    }
}
