using Microsoft.Extensions.Configuration;

namespace Lilith.ServiceAddresses;

/// <summary>Exposes a registry's endpoints as configuration, for Microsoft.Extensions.ServiceDiscovery.</summary>
public static class ServiceAddressesConfigurationExtensions
{
    /// <summary>
    /// Adds every endpoint of the registry file as <c>services:{name}:{scheme}:0 = {scheme}://{host}:{port}</c>, so
    /// Microsoft.Extensions.ServiceDiscovery resolves <c>http://api-gateway</c> with no other code.
    /// </summary>
    /// <param name="builder">The configuration builder (<c>builder.Configuration</c>).</param>
    /// <param name="registryPath">The registry file (YAML or JSON).</param>
    /// <param name="environment">The environment; null picks it from DOTNET_ENVIRONMENT / ASPNETCORE_ENVIRONMENT.</param>
    /// <exception cref="ServiceRegistryException">When the configuration is built, if the file is not valid.</exception>
    public static IConfigurationBuilder AddServiceAddresses(this IConfigurationBuilder builder, string registryPath, string? environment = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(registryPath);
        return builder.Add(new RegistryConfigurationSource(() => ServiceRegistry.Load(registryPath, environment)));
    }

    /// <summary>Adds every endpoint of <paramref name="registry"/> as <c>services:{name}:{scheme}:0</c>.</summary>
    public static IConfigurationBuilder AddServiceAddresses(this IConfigurationBuilder builder, IServiceAddresses registry)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(registry);
        return builder.Add(new RegistryConfigurationSource(() => registry));
    }

    private sealed class RegistryConfigurationSource(Func<IServiceAddresses> load) : IConfigurationSource
    {
        public IConfigurationProvider Build(IConfigurationBuilder builder) => new RegistryConfigurationProvider(load);
    }

    private sealed class RegistryConfigurationProvider(Func<IServiceAddresses> load) : ConfigurationProvider
    {
        public override void Load()
        {
            var data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
            foreach (ServiceAddress service in load().Services)
            {
                foreach ((string scheme, int port) in service.Endpoints)
                {
                    data[$"services:{service.Name}:{scheme}:0"] = $"{scheme}://{ServiceAddress.FormatHost(service.Host)}:{port}";
                }
            }

            Data = data;
        }
    }
}
