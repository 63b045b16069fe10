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
    private readonly string _source = options.Value.Source ?? "/" + (options.Value.ServiceName ?? DomainEventsDefaults.UnnamedService);
    private readonly bool _systemTime = ReferenceEquals(time, TimeProvider.System);

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

    /// <summary>
    /// The envelope of an in-process dispatch: no data, an id unique in this process, formatted only if read; its time
    /// from <see cref="CoarseClock"/> (millisecond resolution) unless another time provider than the system's is set.
    /// </summary>
    public CloudEvent CreateLocal(string typeName) =>
        new(_source, typeName, _systemTime ? CoarseClock.System.UtcNow() : time.GetUtcNow(), CurrentTraceParent());

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
/// In-process dispatch. The handlers of an event type are resolved in a new scope per dispatch, from the root provider
/// per dispatch when no scope would make a difference, or once when all of them are singletons
/// (see <see cref="HandlerRegistrations"/>).
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
        if (type != typeof(TEvent))
        {
            HandlerSet set = SetOf(type);
            return set.Invoker.InvokeAsync(set, root, scopes, domainEvent, envelopes.CreateLocal(set.TypeName), _strategy, cancellationToken);
        }

        // The static type is the runtime type in the common case: typed call, no cast, and the set of this dispatcher
        // remembered per type (a provider has one dispatcher), so no dictionary lookup either.
        HandlerSet typed = LastSet<TEvent>.For(this);
        return ((HandlerInvoker<TEvent>)typed.Invoker).InvokeAsync(typed, root, scopes, domainEvent, envelopes.CreateLocal(typed.TypeName), _strategy, cancellationToken);
    }

    public async ValueTask<bool> DispatchCloudEventAsync(CloudEvent cloudEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cloudEvent);
        if (envelopes.ReadData(cloudEvent) is not { } domainEvent)
        {
            return false;
        }

        HandlerSet set = SetOf(domainEvent.GetType());
        await set.Invoker.InvokeAsync(set, root, scopes, domainEvent, cloudEvent, _strategy, cancellationToken).ConfigureAwait(false);
        return true;
    }

    private HandlerSet SetOf(Type type) =>
        _sets.TryGetValue(type, out HandlerSet? set) ? set : _sets.GetOrAdd(type, static (t, self) => self.CreateSet(t), this);

    private HandlerSet CreateSet(Type type)
    {
        var invoker = (HandlerInvoker)typeof(HandlerInvoker<>).MakeGenericType(type).GetField(nameof(HandlerInvoker<object>.Instance))!.GetValue(null)!;
        HandlerResolution resolution = registrations.ResolutionOf(typeof(IDomainEventHandler<>).MakeGenericType(type));
        object? cached = resolution == HandlerResolution.Cached ? invoker.Resolve(root) : null;
        return new HandlerSet(invoker, envelopes.Registry.NameOf(type), resolution, cached);
    }

    /// <summary>The set of <typeparamref name="TEvent"/> last looked up, and whose dispatcher it belongs to.</summary>
    private static class LastSet<TEvent>
    {
        private static Entry? _last;

        public static HandlerSet For(DomainEventDispatcher dispatcher)
        {
            if (Volatile.Read(ref _last) is { } last && ReferenceEquals(last.Owner, dispatcher))
            {
                return last.Set;
            }

            HandlerSet set = dispatcher.SetOf(typeof(TEvent));
            Volatile.Write(ref _last, new Entry(dispatcher, set));
            return set;
        }

        private sealed record Entry(DomainEventDispatcher Owner, HandlerSet Set);
    }
}
