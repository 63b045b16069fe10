using Lilith.CircuitBreaker;
using Lilith.CircuitBreaker.Internal;
using Lilith.Common;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers Lilith circuit breakers: the shared backend and one breaker per adapter.</summary>
public static class CircuitBreakerServiceCollectionExtensions
{
    /// <summary>Registers the breaker registry with the in-memory backend.</summary>
    public static IServiceCollection AddCircuitBreaker(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        return services.AddCircuitBreaker(static _ => { });
    }

    /// <summary>Registers the breaker registry and configures the shared backend.</summary>
    /// <example><code>services.AddCircuitBreaker(o => { o.Backend = CircuitBreakerBackend.Redis; o.ConnectionString = "redis://localhost:6379"; });</code></example>
    public static IServiceCollection AddCircuitBreaker(this IServiceCollection services, Action<CircuitBreakerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<CircuitBreakerOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CircuitBreakerOptions>, CircuitBreakerOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CircuitBreakerAdapterOptions>, CircuitBreakerAdapterOptionsValidator>());
        services.TryAddSingleton<CircuitBreakerRegistry>();
        services.TryAddSingleton<ICircuitBreakerRegistry>(sp => sp.GetRequiredService<CircuitBreakerRegistry>());
        return services;
    }

    /// <summary>Registers a breaker for the adapter <paramref name="name"/> with the default options.</summary>
    public static IServiceCollection AddCircuitBreaker(this IServiceCollection services, string name)
    {
        ArgumentNullException.ThrowIfNull(services);
        return services.AddCircuitBreaker(name, static _ => { });
    }

    /// <summary>
    /// Registers a breaker for the adapter <paramref name="name"/>: its pipeline (retry, breaker, per-attempt
    /// timeout) from <see cref="ICircuitBreakerRegistry.GetPipeline"/>, and a health check
    /// <c>circuit-breaker:&lt;name&gt;</c>. Options are validated when the host starts.
    /// </summary>
    /// <example>
    /// <code>
    /// services.AddCircuitBreaker("postgres", o =>
    /// {
    ///     o.Breaker.FailureThreshold = 3;
    ///     o.Breaker.SuccessThreshold = 2;
    ///     o.Retry = RetryPresets.Database();
    ///     o.Timeout = TimeSpan.FromSeconds(2);
    /// });
    /// </code>
    /// </example>
    public static IServiceCollection AddCircuitBreaker(this IServiceCollection services, string name, Action<CircuitBreakerAdapterOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        KeySchema.ValidateName(name, "breaker", nameof(name));
        services.AddCircuitBreaker(static _ => { });
        services.AddOptions<CircuitBreakerAdapterOptions>(name).Configure(configure).ValidateOnStart();
        if (services.Any(d => d.ServiceType == typeof(AdapterRegistration) && d.ImplementationInstance is AdapterRegistration r && r.Name == name))
        {
            return services;
        }

        services.AddSingleton(new AdapterRegistration(name));
        services.AddHealthChecks();
        services.AddOptions<HealthCheckServiceOptions>().Configure<IOptionsMonitor<CircuitBreakerAdapterOptions>>((o, adapters) =>
        {
            CircuitBreakerAdapterOptions adapter = adapters.Get(name);
            if (!adapter.HealthCheck)
            {
                return;
            }

            string check = $"circuit-breaker:{name}";
            if (o.Registrations.Any(r => r.Name == check))
            {
                return;
            }

            o.Registrations.Add(new HealthCheckRegistration(check, sp => new BreakerHealthCheck(sp.GetRequiredService<ICircuitBreakerRegistry>(), name), adapter.OpenHealthStatus, ["circuit-breaker"]));
        });
        return services;
    }
}
