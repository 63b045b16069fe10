using Lilith.Common;
using Lilith.ServiceAddresses.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Lilith.ServiceAddresses;

/// <summary>Registers Lilith.ServiceAddresses: <see cref="IServiceAddresses"/> and <see cref="IServiceAddressStore"/>.</summary>
/// <example>
/// <code>
/// builder.Services.AddServiceAddresses("services.yaml");
/// // later: addresses.GetPort("api-gateway")
/// </code>
/// </example>
public static class ServiceAddressesServiceCollectionExtensions
{
    /// <summary>
    /// Adds the registry with options from the <c>ServiceAddresses</c> configuration section (when an
    /// <see cref="IConfiguration"/> is registered). The registry is read and validated when the host starts; a bad
    /// registry fails the start with every error.
    /// </summary>
    public static IServiceCollection AddServiceAddresses(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        return AddCore(services);
    }

    /// <summary>Adds the registry and configures its options.</summary>
    public static IServiceCollection AddServiceAddresses(this IServiceCollection services, Action<ServiceAddressesOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        AddCore(services);
        services.Configure(configure);
        return services;
    }

    /// <summary>Adds the registry read from the file at <paramref name="registryPath"/> (YAML or JSON).</summary>
    public static IServiceCollection AddServiceAddresses(this IServiceCollection services, string registryPath)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(registryPath);
        return services.AddServiceAddresses(o => o.RegistryPath = registryPath);
    }

    /// <summary>Adds the registry read from <paramref name="registryPath"/> and configures its options.</summary>
    public static IServiceCollection AddServiceAddresses(this IServiceCollection services, string registryPath, Action<ServiceAddressesOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(registryPath);
        ArgumentNullException.ThrowIfNull(configure);
        return services.AddServiceAddresses(o =>
        {
            o.RegistryPath = registryPath;
            configure(o);
        });
    }

    /// <summary>
    /// Adds the registry with options from <paramref name="section"/> (RegistryPath, Environment, Backend, Overrides
    /// ...); the registry itself may be given in the section's <c>Registry</c> child (members services, environments).
    /// </summary>
    public static IServiceCollection AddServiceAddresses(this IServiceCollection services, IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(section);
        return services.AddServiceAddresses(o => ServiceAddressesOptionsBinder.Bind(section, o, section is IConfigurationSection s ? s.Path : ""));
    }

    private static IServiceCollection AddCore(IServiceCollection services)
    {
        services.AddOptions<ServiceAddressesOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<ServiceAddressesOptions>, ServiceAddressesOptionsBinder>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ServiceAddressesOptions>, ServiceAddressesOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IServiceAddresses>(sp =>
        {
            ServiceAddressesOptions options = sp.GetRequiredService<IOptions<ServiceAddressesOptions>>().Value;
            return options.Loaded ?? ServiceAddressesOptionsValidator.LoadRegistry(options);
        });
        services.TryAddSingleton<IServiceAddressStore>(sp =>
        {
            ServiceAddressesOptions options = sp.GetRequiredService<IOptions<ServiceAddressesOptions>>().Value;
            var claims = new ClaimPolicy(options.ClaimTtl, options.AutoRenewClaims, sp.GetRequiredService<TimeProvider>());
            ILogger logger = sp.GetService<ILoggerFactory>()?.CreateLogger("Lilith.ServiceAddresses") ?? NullLogger.Instance;
            bool? askedForRedis = options.Backend is { } backend ? backend == ServiceAddressesBackend.Redis : null;
            if (!BackendChoice.UseRedis(sp, askedForRedis, options.ConnectionString, "ServiceAddresses:Backend"))
            {
                BackendChoice.LogInMemory(logger, ServiceAddressesTelemetry.Name);
                return new InMemoryServiceAddressStore(claims, logger);
            }

            RedisConnectionSource connection = RedisConnectionSource.Resolve(sp, options.ConnectionString, ServiceAddressesTelemetry.Name);
            BackendChoice.LogRedis(logger, ServiceAddressesTelemetry.Name, connection.Description);
            return new RedisServiceAddressStore(connection, options.KeyPrefix, claims, logger);
        });
        return services;
    }
}
