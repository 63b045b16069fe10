using Lilith.ServiceDiscovery;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Lilith.Demo.Parts;

/// <summary>Registers two instances, watches the events, resolves from the cache and balances round-robin.</summary>
public sealed class ServiceDiscoveryPart : IDemoPart
{
    /// <inheritdoc />
    public int Order => 20;

    /// <inheritdoc />
    public string Title => "Lilith.ServiceDiscovery: register, watch, resolve, balance, health";

    /// <inheritdoc />
    public void Configure(IServiceCollection services, DemoBackend backend)
    {
        string prefix = "demo-" + Guid.NewGuid().ToString("N")[..8];
        if (backend.IsRedis)
        {
            services.AddServiceDiscovery(o => o.KeyPrefix = prefix);
        }
        else
        {
            services.AddInMemoryServiceDiscovery(o => o.KeyPrefix = prefix);
        }

        services.AddHealthChecks().AddServiceDiscoveryCheck();
    }

    /// <inheritdoc />
    public async Task RunAsync(IServiceProvider services, TextWriter output, CancellationToken cancellationToken)
    {
        IServiceRegistry registry = services.GetRequiredService<IServiceRegistry>();
        IServiceResolver resolver = services.GetRequiredService<IServiceResolver>();
        await resolver.ResolveAsync("api-gateway", cancellationToken: cancellationToken);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var seen = new List<string>();
        Task watching = Task.Run(async () =>
        {
            try
            {
                await foreach (DiscoveryEvent e in resolver.WatchAsync("api-gateway", stop.Token))
                {
                    lock (seen)
                    {
                        seen.Add($"{e.Kind} {e.InstanceId} (revision {e.Revision})");
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        }, cancellationToken);

        await registry.RegisterAsync("api-gateway", new ServiceInstance { Id = "gw-1", Host = "127.0.0.1", Port = 8081, Zone = "a" }, cancellationToken);
        await registry.RegisterAsync("api-gateway", new ServiceInstance { Id = "gw-2", Host = "127.0.0.1", Port = 8082, Zone = "b" }, cancellationToken);
        for (int i = 0; i < 50 && (await resolver.ResolveAsync("api-gateway", cancellationToken: cancellationToken)).Count < 2; i++)
        {
            await Task.Delay(20, cancellationToken);
        }

        IReadOnlyList<ServiceInstance> all = await resolver.ResolveAsync("api-gateway", cancellationToken: cancellationToken);
        output.WriteLine($"   resolved {all.Count}: {string.Join(", ", all.Select(i => $"{i.Id}={i.ToUri()}"))}");
        var picks = new List<string>();
        for (int i = 0; i < 4; i++)
        {
            using InstanceLease lease = await resolver.SelectAsync("api-gateway", cancellationToken: cancellationToken);
            picks.Add(lease.Instance.Id);
        }

        output.WriteLine($"   round-robin picks: {string.Join(" ", picks)}");
        output.WriteLine($"   zone b only: {(await resolver.ResolveAsync("api-gateway", new InstanceFilter { Zone = "b" }, cancellationToken)).Single().Id}");
        await registry.SetHealthAsync("api-gateway", "gw-1", InstanceHealth.Warning, cancellationToken);
        var passingOnly = new InstanceFilter { IncludeWarning = false };
        for (int i = 0; i < 50 && (await resolver.ResolveAsync("api-gateway", passingOnly, cancellationToken)).Count != 1; i++)
        {
            await Task.Delay(20, cancellationToken);
        }

        output.WriteLine($"   gw-1 warning, passing only: {string.Join(", ", (await resolver.ResolveAsync("api-gateway", passingOnly, cancellationToken)).Select(i => i.Id))}");
        HealthReport health = await services.GetRequiredService<HealthCheckService>().CheckHealthAsync(cancellationToken);
        HealthReportEntry check = health.Entries[DiscoveryHealthChecksBuilderExtensions.DefaultCheckName];
        output.WriteLine($"   health check: {check.Status} ({check.Description})");
        await registry.DeregisterAsync("api-gateway", "gw-1", cancellationToken);
        await registry.DeregisterAsync("api-gateway", "gw-2", cancellationToken);
        await Task.Delay(100, cancellationToken);
        await stop.CancelAsync();
        await watching;
        lock (seen)
        {
            output.WriteLine($"   events: {string.Join("; ", seen)}");
        }
    }
}
