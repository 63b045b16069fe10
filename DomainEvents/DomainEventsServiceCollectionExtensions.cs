using Lilith.Common;
using Lilith.DomainEvents.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Lilith.DomainEvents;

/// <summary>Registers Lilith.DomainEvents.</summary>
public static class DomainEventsServiceCollectionExtensions
{
    /// <summary>Adds domain events with the in-memory transport and default options.</summary>
    /// <param name="services">The service collection.</param>
    /// <returns>A builder to register event types and handlers.</returns>
    public static DomainEventsBuilder AddDomainEvents(this IServiceCollection services) => services.AddDomainEvents(_ => { });

    /// <summary>Adds domain events: publisher, in-process dispatcher, dead-letter reader and, when handlers are registered, the hosted stream consumer.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the options (transport, service name, streams ...).</param>
    /// <returns>A builder to register event types and handlers.</returns>
    /// <example><code>
    /// services.AddDomainEvents(o => { o.Transport = DomainEventTransport.Redis; o.ServiceName = "billing"; o.Stream = "orders"; })
    ///         .AddHandler&lt;OrderPlaced, ChargeCustomer&gt;();
    /// </code></example>
    public static DomainEventsBuilder AddDomainEvents(this IServiceCollection services, Action<DomainEventsOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<DomainEventsOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DomainEventsOptions>, DomainEventsOptionsValidator>());

        if (services.FirstOrDefault(d => d.ServiceType == typeof(EventTypeRegistry))?.ImplementationInstance is EventTypeRegistry existing)
        {
            return new DomainEventsBuilder(services, existing);
        }

        var registry = new EventTypeRegistry();
        services.AddSingleton(registry);
        services.TryAddSingleton(new HandlerRegistrations(services));
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<EventEnvelopes>();
        services.TryAddSingleton<IDomainEventDispatcher, DomainEventDispatcher>();
        services.TryAddSingleton<StreamRetention>();
        services.TryAddSingleton<IDomainEventPublisher, DomainEventPublisher>();
        services.TryAddSingleton<IStreamStore>(CreateStore);
        services.TryAddSingleton<IDeadLetterReader, DeadLetterReader>();
        services.TryAddSingleton<StreamConsumer>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, StreamConsumerHost>());
        return new DomainEventsBuilder(services, registry);
    }

    private const string Package = "Lilith.DomainEvents";

    private static IStreamStore CreateStore(IServiceProvider services)
    {
        DomainEventsOptions options = services.GetRequiredService<IOptions<DomainEventsOptions>>().Value;
        ILogger logger = services.GetService<ILoggerFactory>()?.CreateLogger(Package) ?? NullLogger.Instance;
        if (!DomainEventsOptionsValidator.UsesRedis(services, options))
        {
            BackendChoice.LogInMemory(logger, Package);
            return new InMemoryStreamStore(services.GetRequiredService<TimeProvider>(), options.MaxDeadLetterLength);
        }

        RedisConnectionSource connection = RedisConnectionSource.Resolve(services, options.ConnectionString, Package);
        BackendChoice.LogRedis(logger, Package, connection.Description);
        return new RedisStreamStore(
            connection, new EventKeys(options.KeyPrefix), options.MaxDeadLetterLength,
            options.ReadBlockTime, options.PollInterval, services.GetRequiredService<TimeProvider>(),
            options.ReplicaAcknowledgements, options.ReplicaAcknowledgementTimeout);
    }
}
