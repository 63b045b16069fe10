using Lilith.Common;
using Lilith.ServiceDiscovery.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.ServiceDiscovery;

namespace Lilith.ServiceDiscovery;

/// <summary>
/// Registers Lilith service discovery. These methods live in the <c>Lilith.ServiceDiscovery</c> namespace and always take
/// an options callback, so a project that also uses Microsoft.Extensions.ServiceDiscovery can call both
/// <c>services.AddServiceDiscovery()</c> (Microsoft's) and <c>services.AddServiceDiscovery(o =&gt; ...)</c> (this one) without ambiguity.
/// </summary>
public static class DiscoveryServiceCollectionExtensions
{
    /// <summary>
    /// Adds the Redis-backed <see cref="IServiceRegistry"/> and <see cref="IServiceResolver"/> (connection from
    /// <see cref="DiscoveryOptions.ConnectionString"/> or the registered IConnectionMultiplexer), and a hosted service that
    /// registers <see cref="DiscoveryOptions.Instance"/> when <see cref="DiscoveryOptions.ServiceName"/> is set.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the options.</param>
    /// <example><code>services.AddServiceDiscovery(o =&gt;
    /// {
    ///     o.ConnectionString = "redis://localhost:6379";
    ///     o.ServiceName = "orders";
    ///     o.Instance = new ServiceInstance { Id = "orders-1", Host = "10.0.0.5", Port = 8080 };
    /// });</code></example>
    public static IServiceCollection AddServiceDiscovery(this IServiceCollection services, Action<DiscoveryOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        return services.AddDiscoveryCore(configure, (sp, o) =>
            new RedisDiscoveryBackend(RedisConnectionSource.Resolve(sp, o.ConnectionString, "Lilith.ServiceDiscovery"), o.KeyPrefix));
    }

    /// <summary>Adds the in-memory backend: every client of this process with the same key prefix shares the data (development, tests, demos).</summary>
    /// <param name="services">The service collection.</param>
    public static IServiceCollection AddInMemoryServiceDiscovery(this IServiceCollection services) =>
        services.AddInMemoryServiceDiscovery(static _ => { });

    /// <summary>Adds the in-memory backend with options.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the options.</param>
    public static IServiceCollection AddInMemoryServiceDiscovery(this IServiceCollection services, Action<DiscoveryOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        return services.AddDiscoveryCore(configure, (sp, o) => new InMemoryDiscoveryBackend(o.KeyPrefix, sp.GetService<TimeProvider>() ?? TimeProvider.System));
    }

    /// <summary>
    /// Lets Microsoft.Extensions.ServiceDiscovery resolve service names through Lilith discovery, so
    /// <c>http://api-gateway</c> works in any HttpClient with Microsoft's <c>AddServiceDiscovery()</c> handler. Endpoints come
    /// from the local cache (passing instances, and warning ones unless <see cref="DiscoveryOptions.IncludeWarning"/> is false);
    /// the change token fires on the service's next registered, deregistered, expired or health-changed event and at the latest
    /// after <see cref="DiscoveryOptions.RefreshInterval"/>. <c>https+http://name</c> prefers instances whose scheme comes first;
    /// <c>http://_grpc.name</c> selects the instances tagged <c>grpc</c>.
    /// </summary>
    /// <remarks>
    /// Call it with Lilith's <see cref="AddServiceDiscovery"/> (or <see cref="AddInMemoryServiceDiscovery(IServiceCollection)"/>)
    /// and Microsoft's <c>AddServiceDiscovery()</c>, in any order: Microsoft asks its pass-through provider last anyway. Called
    /// after Microsoft's, configuration entries (<c>services:name:...</c>) override the registry; called before, the registry
    /// answers first. A name with no available instance falls through to the next provider. A second call adds nothing.
    /// </remarks>
    /// <param name="services">The service collection.</param>
    /// <example><code>services.AddServiceDiscovery(o =&gt; o.ConnectionString = "redis://localhost:6379");  // Lilith
    /// services.AddServiceDiscovery();                                                   // Microsoft
    /// services.AddLilithServiceEndpointProvider();
    /// services.AddHttpClient("gateway", c =&gt; c.BaseAddress = new("http://api-gateway")).AddServiceDiscovery();</code></example>
    public static IServiceCollection AddLilithServiceEndpointProvider(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);

        // Microsoft's watcher asks the providers in registration order and its pass-through provider always last.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IServiceEndpointProviderFactory, DiscoveryEndpointProviderFactory>());
        return services;
    }

    private static IServiceCollection AddDiscoveryCore(this IServiceCollection services, Action<DiscoveryOptions> configure, Func<IServiceProvider, DiscoveryOptions, IDiscoveryBackend> backend)
    {
        services.AddOptions<DiscoveryOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DiscoveryOptions>, DiscoveryOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp =>
        {
            DiscoveryOptions options = sp.GetRequiredService<IOptions<DiscoveryOptions>>().Value;
            ILogger logger = sp.GetService<ILoggerFactory>()?.CreateLogger("Lilith.ServiceDiscovery") ?? NullLogger.Instance;
            return new DiscoveryClient(backend(sp, options), options, sp.GetRequiredService<TimeProvider>(), logger);
        });
        services.TryAddSingleton<IServiceRegistry>(sp => sp.GetRequiredService<DiscoveryClient>());
        services.TryAddSingleton<IServiceResolver>(sp => sp.GetRequiredService<DiscoveryClient>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, DiscoveryHostedService>());
        return services;
    }
}
