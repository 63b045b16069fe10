using Lilith.ServiceAddresses;
using Microsoft.Extensions.DependencyInjection;

namespace Lilith.Demo.Parts;

/// <summary>Lilith.ServiceAddresses: one registry file, lookups, start order, publish and a port claim.</summary>
public sealed class ServiceAddressesPart : IDemoPart
{
    private const string Registry = """
        services:
          api-gateway:
            port: 8080
            endpoints: { https: 8443 }
            dependencies: [auth, orders]
          auth:
            port: 8081
          orders:
            port: 8082
            dependencies: [auth]
        environments:
          production:
            api-gateway: { host: gateway.internal, port: 80 }
        """;

    /// <inheritdoc />
    public int Order => 10;

    /// <inheritdoc />
    public string Title => "Lilith.ServiceAddresses: registry lookups, start order, publish, port claims";

    /// <inheritdoc />
    public void Configure(IServiceCollection services, DemoBackend backend)
    {
        string path = Path.Combine(Path.GetTempPath(), $"lilith-demo-services-{Environment.ProcessId}.yaml");
        File.WriteAllText(path, Registry);
        services.AddServiceAddresses(path, o =>
        {
            o.Environment = "development";
            o.Backend = backend.IsRedis ? ServiceAddressesBackend.Redis : ServiceAddressesBackend.InMemory;
            o.KeyPrefix = "lilith-demo";
        });
    }

    /// <inheritdoc />
    public async Task RunAsync(IServiceProvider services, TextWriter output, CancellationToken cancellationToken)
    {
        IServiceAddresses addresses = services.GetRequiredService<IServiceAddresses>();
        output.WriteLine($"   environment {addresses.Environment}: GetPort(\"api-gateway\") = {addresses.GetPort("api-gateway")}, " +
                         $"GetUrl(\"api-gateway\", \"https\") = {addresses.GetUrl("api-gateway", "https")}");
        output.WriteLine($"   start order: {string.Join(" -> ", addresses.GetStartOrder())}");
        try
        {
            addresses.GetPort("api-gatway");
        }
        catch (UnknownServiceException e)
        {
            output.WriteLine($"   typo: {e.Message}");
        }

        IServiceAddressStore store = services.GetRequiredService<IServiceAddressStore>();
        long revision = await store.PublishAsync(addresses, cancellationToken);
        output.WriteLine($"   published revision {revision}; loaded back {(await store.LoadAsync(addresses.Environment, cancellationToken))!.Registry.Services.Count} services");

        await using IPortClaim? claim = await store.TryClaimPortAsync(addresses.Environment, "localhost", 8080, "api-gateway", cancellationToken);
        IPortClaim? second = await store.TryClaimPortAsync(addresses.Environment, "localhost", 8080, "intruder", cancellationToken);
        output.WriteLine($"   claim localhost:8080 -> {(claim is null ? "taken" : "claimed")}; a second claimer -> {(second is null ? "refused" : "claimed (!)")}");
        if (second is not null)
        {
            await second.DisposeAsync();
        }
    }
}
