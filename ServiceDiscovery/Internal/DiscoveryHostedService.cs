using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Lilith.ServiceDiscovery.Internal;

/// <summary>Registers this process's own instance on start (heartbeats come from the client) and deregisters it on a graceful stop.</summary>
internal sealed class DiscoveryHostedService(IServiceRegistry registry, IOptions<DiscoveryOptions> options) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value is { ServiceName: { } service, Instance: { } instance })
        {
            await registry.RegisterAsync(service, instance, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (options.Value is { ServiceName: { } service, Instance: { } instance })
        {
            await registry.DeregisterAsync(service, instance.Id, cancellationToken).ConfigureAwait(false);
        }
    }
}
