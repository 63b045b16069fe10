using Lilith.ServiceDiscovery.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Lilith.ServiceDiscovery.Tests;

/// <summary>The contract on the in-memory backend.</summary>
public sealed class InMemoryDiscoveryTests : DiscoveryContractTests
{
    protected override Task<ServiceProvider> CreateClientAsync(string prefix, Action<DiscoveryOptions>? configure = null, CapturingLoggerProvider? logs = null)
    {
        var services = new ServiceCollection();
        services.AddLogging(b => b.AddProvider(logs ?? new CapturingLoggerProvider()));
        services.AddInMemoryServiceDiscovery(o =>
        {
            Defaults(o, prefix);
            configure?.Invoke(o);
        });
        return Task.FromResult(services.BuildServiceProvider());
    }

    protected override Task WriteRawAsync(string prefix, string service, string id, string json)
    {
        InMemoryDiscoveryBackend.WriteRaw(prefix, service, id, json, TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds() + 60_000);
        return Task.CompletedTask;
    }
}
