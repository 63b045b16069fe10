using System.Reflection;
using Lilith.DomainEvents.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Lilith.DomainEvents;

/// <summary>Registers event types and handlers; returned by <c>AddDomainEvents</c>.</summary>
public sealed class DomainEventsBuilder
{
    internal DomainEventsBuilder(IServiceCollection services, EventTypeRegistry registry)
    {
        Services = services;
        Registry = registry;
    }

    /// <summary>The service collection.</summary>
    public IServiceCollection Services { get; }

    internal EventTypeRegistry Registry { get; }

    /// <summary>Registers an event type; its CloudEvents type comes from <see cref="DomainEventAttribute"/>, <paramref name="type"/> or the convention.</summary>
    /// <typeparam name="TEvent">The event type.</typeparam>
    /// <param name="type">The CloudEvents type, or null for the attribute or the convention.</param>
    public DomainEventsBuilder AddEventType<TEvent>(string? type = null)
        where TEvent : notnull
    {
        Registry.Add(typeof(TEvent), type);
        return this;
    }

    /// <summary>Registers a handler (transient, resolved from the dispatch's scope, so it may depend on scoped services) and its event type.</summary>
    /// <typeparam name="TEvent">The event type.</typeparam>
    /// <typeparam name="THandler">The handler.</typeparam>
    public DomainEventsBuilder AddHandler<TEvent, THandler>()
        where TEvent : notnull
        where THandler : class, IDomainEventHandler<TEvent> => AddHandler<TEvent, THandler>(ServiceLifetime.Transient);

    /// <summary>
    /// Registers a handler with the given lifetime and its event type. When every handler of an event type is a
    /// singleton, a dispatch of that type creates no DI scope (the handlers are resolved once); nor does it when every
    /// handler is a non-disposable transient that depends only on singletons and such transients.
    /// </summary>
    /// <typeparam name="TEvent">The event type.</typeparam>
    /// <typeparam name="THandler">The handler.</typeparam>
    /// <param name="lifetime">The handler's lifetime; a scoped handler lives in the dispatch's scope.</param>
    public DomainEventsBuilder AddHandler<TEvent, THandler>(ServiceLifetime lifetime)
        where TEvent : notnull
        where THandler : class, IDomainEventHandler<TEvent>
    {
        Registry.Add(typeof(TEvent), null);
        Services.TryAddEnumerable(ServiceDescriptor.Describe(typeof(IDomainEventHandler<TEvent>), typeof(THandler), lifetime));
        return this;
    }

    /// <summary>Registers every non-abstract <see cref="IDomainEventHandler{TEvent}"/> implementation of <paramref name="assembly"/> (transient, resolved per dispatch scope) and their event types.</summary>
    /// <param name="assembly">The assembly to scan.</param>
    public DomainEventsBuilder AddHandlersFromAssembly(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        foreach (Type type in assembly.GetTypes().Where(t => t is { IsAbstract: false, IsInterface: false, IsGenericTypeDefinition: false }))
        {
            foreach (Type contract in type.GetInterfaces().Where(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IDomainEventHandler<>)))
            {
                Registry.Add(contract.GetGenericArguments()[0], null);
                Services.TryAddEnumerable(ServiceDescriptor.Transient(contract, type));
            }
        }

        return this;
    }
}
