using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Lilith.Common;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Lilith.DomainEvents.Internal;

/// <summary>Builds CloudEvents from user events and reads user events back from CloudEvents.</summary>
internal sealed class EventEnvelopes(EventTypeRegistry registry, IOptions<DomainEventsOptions> options, TimeProvider time)
{
    private readonly JsonSerializerOptions _data = options.Value.DataSerializerOptions ?? WireJson.Options;
    private readonly string _source = options.Value.Source ?? "/" + options.Value.ServiceName;

    public EventTypeRegistry Registry => registry;

    public CloudEvent Create(object domainEvent, string? subject) => new()
    {
        Id = Guid.NewGuid().ToString(),
        Source = _source,
        Type = registry.NameOf(domainEvent.GetType()),
        Time = time.GetUtcNow(),
        Subject = subject,
        DataContentType = "application/json",
        Data = JsonSerializer.SerializeToElement(domainEvent, domainEvent.GetType(), _data),
        TraceParent = CurrentTraceParent(),
    };

    /// <summary>The envelope of an in-process dispatch: no data, an id unique in this process, formatted only if read.</summary>
    public CloudEvent CreateLocal(Type eventType) => new(_source, registry.NameOf(eventType), time.GetUtcNow(), CurrentTraceParent());

    private static string? CurrentTraceParent() => Activity.Current is { IdFormat: ActivityIdFormat.W3C } current ? current.Id : null;

    /// <summary>The user event inside <paramref name="cloudEvent"/>, or null when its type is not registered.</summary>
    public object? ReadData(CloudEvent cloudEvent)
    {
        if (registry.TypeOf(cloudEvent.Type) is not { } type)
        {
            return null;
        }

        try
        {
            object? value = cloudEvent.Data is { } data ? data.Deserialize(type, _data) : null;
            return value ?? throw new CloudEventFormatException($"CloudEvent '{cloudEvent.Id}' of type '{cloudEvent.Type}' has no data for {type.Name}.");
        }
        catch (JsonException e)
        {
            throw new CloudEventFormatException($"The data of CloudEvent '{cloudEvent.Id}' cannot be read as {type.Name}: {e.Message}", e);
        }
    }
}

/// <summary>
/// In-process dispatch: handlers resolved in a new scope per dispatch, or once from the root provider when every
/// handler of the event type is registered as a singleton (then no scope is needed).
/// </summary>
internal sealed class DomainEventDispatcher(
    IServiceProvider root, IServiceScopeFactory scopes, HandlerRegistrations registrations, EventEnvelopes envelopes, IOptions<DomainEventsOptions> options) : IDomainEventDispatcher
{
    private readonly ConcurrentDictionary<Type, HandlerSet> _sets = new();
    private readonly DispatchStrategy _strategy = options.Value.DispatchStrategy;

    public ValueTask DispatchAsync<TEvent>(TEvent domainEvent, CancellationToken cancellationToken = default)
        where TEvent : notnull
    {
        ArgumentNullException.ThrowIfNull(domainEvent);
        Type type = domainEvent.GetType();
        HandlerSet set = SetOf(type);
        CloudEvent envelope = envelopes.CreateLocal(type);
        // The static type is the runtime type in the common case: typed call, no cast.
        return type == typeof(TEvent)
            ? ((HandlerInvoker<TEvent>)set.Invoker).InvokeAsync(scopes, set.Singletons, domainEvent, envelope, _strategy, cancellationToken)
            : set.Invoker.InvokeAsync(scopes, set.Singletons, domainEvent, envelope, _strategy, cancellationToken);
    }

    public async ValueTask<bool> DispatchCloudEventAsync(CloudEvent cloudEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cloudEvent);
        if (envelopes.ReadData(cloudEvent) is not { } domainEvent)
        {
            return false;
        }

        HandlerSet set = SetOf(domainEvent.GetType());
        await set.Invoker.InvokeAsync(scopes, set.Singletons, domainEvent, cloudEvent, _strategy, cancellationToken).ConfigureAwait(false);
        return true;
    }

    private HandlerSet SetOf(Type type) =>
        _sets.TryGetValue(type, out HandlerSet? set) ? set : _sets.GetOrAdd(type, static (t, self) => self.CreateSet(t), this);

    private HandlerSet CreateSet(Type type)
    {
        var invoker = (HandlerInvoker)typeof(HandlerInvoker<>).MakeGenericType(type).GetField(nameof(HandlerInvoker<object>.Instance))!.GetValue(null)!;
        object? singletons = registrations.AllSingletons(typeof(IDomainEventHandler<>).MakeGenericType(type)) ? invoker.ResolveSingletons(root) : null;
        return new HandlerSet(invoker, singletons);
    }

    private sealed record HandlerSet(HandlerInvoker Invoker, object? Singletons);
}

/// <summary>
/// What the service collection registered for each handler type. The built provider does not tell lifetimes;
/// the collection does, and it is fixed once the provider is built.
/// </summary>
internal sealed class HandlerRegistrations(IServiceCollection services)
{
    /// <summary>True when <paramref name="handlerType"/> has registrations and every one is a singleton.</summary>
    public bool AllSingletons(Type handlerType)
    {
        bool any = false;
        foreach (ServiceDescriptor descriptor in services)
        {
            if (descriptor.ServiceType == handlerType && !descriptor.IsKeyedService)
            {
                if (descriptor.Lifetime != ServiceLifetime.Singleton)
                {
                    return false;
                }

                any = true;
            }
        }

        return any;
    }
}
