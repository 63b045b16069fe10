using System.Reflection;
using Microsoft.Extensions.DependencyInjection;

namespace Lilith.DomainEvents.Internal;

/// <summary>How the handlers of one event type are resolved for a dispatch.</summary>
internal enum HandlerResolution
{
    /// <summary>A new DI scope per dispatch: some handler or a service it depends on is scoped, disposable or not analysable.</summary>
    Scope,

    /// <summary>
    /// From the root provider per dispatch: every handler is transient and not disposable, and everything it depends on
    /// is a singleton or such a transient, so a scope would give the same objects and dispose nothing.
    /// </summary>
    Root,

    /// <summary>Resolved once and kept: every handler is a singleton.</summary>
    Cached,
}

/// <summary>
/// What the service collection registered for each handler type. The built provider does not tell lifetimes or
/// dependencies; the collection does, and it is fixed once the provider is built. The analysis is conservative: any
/// registration it cannot see through (a factory, an unregistered or keyed parameter, <see cref="IServiceProvider"/>,
/// a dependency chain deeper than <see cref="MaxDepth"/>) keeps the scope.
/// </summary>
internal sealed class HandlerRegistrations(IServiceCollection services)
{
    private const int MaxDepth = 8;

    /// <summary>How to resolve the services registered as <paramref name="handlerType"/> (an <c>IDomainEventHandler&lt;T&gt;</c>).</summary>
    public HandlerResolution ResolutionOf(Type handlerType)
    {
        List<ServiceDescriptor> handlers = All(handlerType);
        if (handlers.TrueForAll(static d => d.Lifetime == ServiceLifetime.Singleton))
        {
            return HandlerResolution.Cached;
        }

        return handlers.TrueForAll(d => ScopeFree(d, handlerType, 0)) ? HandlerResolution.Root : HandlerResolution.Scope;
    }

    /// <summary>The non-keyed registrations that a resolution of <c>IEnumerable&lt;serviceType&gt;</c> returns, in order.</summary>
    private List<ServiceDescriptor> All(Type serviceType)
    {
        Type? definition = serviceType.IsConstructedGenericType ? serviceType.GetGenericTypeDefinition() : null;
        var found = new List<ServiceDescriptor>();
        foreach (ServiceDescriptor descriptor in services)
        {
            if (!descriptor.IsKeyedService && (descriptor.ServiceType == serviceType || descriptor.ServiceType == definition))
            {
                found.Add(descriptor);
            }
        }

        return found;
    }

    /// <summary>True when resolving <paramref name="descriptor"/> (asked for as <paramref name="requested"/>) from the root gives what a scope would give and leaves nothing to dispose.</summary>
    private bool ScopeFree(ServiceDescriptor descriptor, Type requested, int depth)
    {
        if (descriptor.Lifetime == ServiceLifetime.Singleton)
        {
            return true;
        }

        if (descriptor.Lifetime == ServiceLifetime.Scoped || descriptor.ImplementationType is not { } implementation || depth >= MaxDepth)
        {
            return false;
        }

        if (implementation.IsGenericTypeDefinition)
        {
            if (!requested.IsConstructedGenericType || Close(implementation, requested.GenericTypeArguments) is not { } closed)
            {
                return false;
            }

            implementation = closed;
        }

        if (typeof(IDisposable).IsAssignableFrom(implementation) || typeof(IAsyncDisposable).IsAssignableFrom(implementation))
        {
            return false;
        }

        ConstructorInfo[] constructors = implementation.GetConstructors();
        return constructors.Length > 0 && Array.TrueForAll(constructors, c => Array.TrueForAll(c.GetParameters(), p => ParameterScopeFree(p, depth + 1)));
    }

    private bool ParameterScopeFree(ParameterInfo parameter, int depth)
    {
        Type type = parameter.ParameterType;
        if (type == typeof(IServiceProvider) || parameter.GetCustomAttribute<FromKeyedServicesAttribute>() is not null)
        {
            return false;
        }

        if (type.IsConstructedGenericType && type.GetGenericTypeDefinition() == typeof(IEnumerable<>))
        {
            Type item = type.GenericTypeArguments[0];
            return All(item).TrueForAll(d => ScopeFree(d, item, depth));
        }

        // A single service is the last registration; a closed registration wins over an open generic one.
        List<ServiceDescriptor> candidates = All(type);
        ServiceDescriptor? chosen = candidates.FindLast(d => d.ServiceType == type) ?? candidates.LastOrDefault();
        return chosen is not null && ScopeFree(chosen, type, depth);
    }

    private static Type? Close(Type definition, Type[] arguments)
    {
        try
        {
            return definition.MakeGenericType(arguments);
        }
        catch (ArgumentException)
        {
            // The arguments break the definition's constraints: the container would skip it; keep the scope.
            return null;
        }
    }
}
