using Lilith.ServiceDiscovery.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Lilith.ServiceDiscovery.Tests;

/// <summary>This app's health fed to its instance (HealthReport -> passing/warning/critical), and the discovery client's own check.</summary>
public sealed class HealthTests(RedisFixture redis)
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(10);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Health_report_drives_the_registered_instance_health_in_Redis_and_what_resolves()
    {
        string prefix = RedisFixture.NewPrefix();
        var db = new Switch();
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddSingleton(await redis.NewConnectionAsync());
        builder.Services.AddServiceDiscovery(o =>
        {
            Fast(o, prefix);
            o.ServiceName = "orders";
            o.Instance = new ServiceInstance { Id = "orders-1", Host = "10.0.0.1", Port = 9001 };
        });
        builder.Services.AddHealthChecks()
            .AddCheck("db", () => new HealthCheckResult(db.Status))
            .AddServiceDiscoveryCheck()
            .AddServiceDiscoveryPublisher();
        builder.Services.Configure<HealthCheckPublisherOptions>(o =>
        {
            o.Delay = TimeSpan.Zero;
            o.Period = TimeSpan.FromSeconds(1);
        });
        using IHost app = builder.Build();

        // Two other processes resolve "orders": one with the default (warning included), one that excludes warning.
        await using ServiceProvider lenient = Observer(await redis.NewConnectionAsync(), prefix, includeWarning: true);
        await using ServiceProvider strict = Observer(await redis.NewConnectionAsync(), prefix, includeWarning: false);
        IServiceResolver lenientResolver = lenient.GetRequiredService<IServiceResolver>();
        IServiceResolver strictResolver = strict.GetRequiredService<IServiceResolver>();
        IDatabase raw = (await redis.ConnectionAsync()).GetDatabase();
        async Task<string?> StoredHealthAsync()
        {
            string? json = await raw.HashGetAsync($"{prefix}:discovery:{{orders}}:instances", "orders-1");
            return json is null ? null : System.Text.Json.JsonDocument.Parse(json).RootElement.GetProperty("health").GetString();
        }

        async Task<(int Lenient, int Strict)> ResolvedAsync() =>
            ((await lenientResolver.ResolveAsync("orders", cancellationToken: Ct)).Count, (await strictResolver.ResolveAsync("orders", cancellationToken: Ct)).Count);

        await app.StartAsync(Ct);
        try
        {
            await Eventually.TrueAsync(async () => await StoredHealthAsync() == "passing" && await ResolvedAsync() == (1, 1), Within, "registered passing, resolved by both");

            db.Status = HealthStatus.Unhealthy;
            await Eventually.TrueAsync(async () => await StoredHealthAsync() == "critical", Within, "Unhealthy -> critical in Redis");
            await Eventually.TrueAsync(async () => await ResolvedAsync() == (0, 0), Within, "critical: resolved by neither");

            db.Status = HealthStatus.Degraded;
            await Eventually.TrueAsync(async () => await StoredHealthAsync() == "warning", Within, "Degraded -> warning in Redis");
            await Eventually.TrueAsync(async () => await ResolvedAsync() == (1, 0), Within, "warning: resolved only where IncludeWarning says so");
            Assert.Empty(await lenientResolver.ResolveAsync("orders", new InstanceFilter { IncludeWarning = false }, Ct));

            db.Status = HealthStatus.Healthy;
            await Eventually.TrueAsync(async () => await StoredHealthAsync() == "passing", Within, "Healthy -> passing in Redis");
            await Eventually.TrueAsync(async () => await ResolvedAsync() == (1, 1), Within, "passing: resolved by both again");
        }
        finally
        {
            await app.StopAsync(Ct);
        }
    }

    [Fact]
    public void Mapping_takes_the_worst_entry_and_leaves_the_discovery_check_out()
    {
        static HealthReport Report(HealthStatus app, HealthStatus discovery) => new(
            new Dictionary<string, HealthReportEntry>
            {
                ["db"] = new(app, null, TimeSpan.Zero, null, null, ["db"]),
                ["cache"] = new(HealthStatus.Healthy, null, TimeSpan.Zero, null, null),
                ["service-discovery"] = new(discovery, null, TimeSpan.Zero, null, null, [DiscoveryHealthCheck.Tag]),
            },
            TimeSpan.Zero);

        Assert.Equal(InstanceHealth.Passing, DiscoveryHealthPublisher.ToInstanceHealth(Report(HealthStatus.Healthy, HealthStatus.Unhealthy)));
        Assert.Equal(InstanceHealth.Warning, DiscoveryHealthPublisher.ToInstanceHealth(Report(HealthStatus.Degraded, HealthStatus.Healthy)));
        Assert.Equal(InstanceHealth.Critical, DiscoveryHealthPublisher.ToInstanceHealth(Report(HealthStatus.Unhealthy, HealthStatus.Degraded)));
    }

    [Fact]
    public void Publisher_without_an_own_instance_fails_at_start_naming_the_options()
    {
        var services = new ServiceCollection();
        services.AddInMemoryServiceDiscovery();
        services.AddHealthChecks().AddServiceDiscoveryPublisher().AddServiceDiscoveryPublisher();
        Assert.Single(services, d => d.ServiceType == typeof(IHealthCheckPublisher));
        using ServiceProvider provider = services.BuildServiceProvider();
        var e = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());
        Assert.Contains("DiscoveryOptions.ServiceName: 'null', DiscoveryOptions.Instance: null", e.Message, StringComparison.Ordinal);
        Assert.Contains("AddServiceDiscoveryPublisher()", e.Message, StringComparison.Ordinal);
    }

    [Trait("Redis", "own-servers")]
    [Fact]
    public async Task Discovery_check_reports_the_outage_while_the_last_known_instances_are_served()
    {
        RedisServerProcess server = await redis.StartOwnedServerAsync();
        await using IConnectionMultiplexer connection = await RedisFixture.ConnectAsync(server.ConnectionString);
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton(connection);
        services.AddServiceDiscovery(o => Fast(o, RedisFixture.NewPrefix()));
        services.AddHealthChecks()
            .AddServiceDiscoveryCheck()
            .AddServiceDiscoveryCheck("discovery-strict", HealthStatus.Unhealthy, ["ready"]);
        await using ServiceProvider sp = services.BuildServiceProvider();
        HealthCheckService health = sp.GetRequiredService<HealthCheckService>();
        IServiceResolver resolver = sp.GetRequiredService<IServiceResolver>();
        await sp.GetRequiredService<IServiceRegistry>().RegisterAsync("pay", new ServiceInstance { Id = "pay-1", Host = "10.0.0.9", Port = 8009 }, Ct);
        Assert.Single(await resolver.ResolveAsync("pay", cancellationToken: Ct));

        HealthReport up = await health.CheckHealthAsync(Ct);
        Assert.Equal(HealthStatus.Healthy, up.Status);
        Assert.Contains("ready", up.Entries["discovery-strict"].Tags);

        await server.KillAsync();
        await Eventually.TrueAsync(async () => (await health.CheckHealthAsync(Ct)).Entries["service-discovery"].Status == HealthStatus.Degraded,
            Within, "outage visible in health");
        HealthReport down = await health.CheckHealthAsync(Ct);
        Assert.Equal(HealthStatus.Unhealthy, down.Entries["discovery-strict"].Status);
        Assert.Contains("unreachable; resolves are answered from the last known instances of 1 cached service(s)",
            down.Entries["service-discovery"].Description, StringComparison.Ordinal);
        Assert.Equal("pay-1", Assert.Single(await resolver.ResolveAsync("pay", cancellationToken: Ct)).Id);

        await server.RestartAsync(Ct);
        await Eventually.TrueAsync(async () => (await health.CheckHealthAsync(Ct)).Status == HealthStatus.Healthy, TimeSpan.FromSeconds(20), "healthy again after restart");
    }

    private static void Fast(DiscoveryOptions o, string prefix)
    {
        o.KeyPrefix = prefix;
        o.Ttl = TimeSpan.FromSeconds(2);
        o.HeartbeatInterval = TimeSpan.FromMilliseconds(500);
        o.SweepInterval = TimeSpan.FromMilliseconds(250);
    }

    private static ServiceProvider Observer(IConnectionMultiplexer connection, string prefix, bool includeWarning)
    {
        var services = new ServiceCollection();
        services.AddSingleton(connection);
        services.AddServiceDiscovery(o =>
        {
            Fast(o, prefix);
            o.IncludeWarning = includeWarning;
        });
        return services.BuildServiceProvider();
    }

    private sealed class Switch
    {
        private volatile int _status = (int)HealthStatus.Healthy;

        public HealthStatus Status
        {
            get => (HealthStatus)_status;
            set => _status = (int)value;
        }
    }
}
