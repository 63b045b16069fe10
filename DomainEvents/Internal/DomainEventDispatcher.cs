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

    // In-process dispatch needs an id unique in this process only: a per-process prefix and a counter (no RNG call).
    private static readonly string LocalPrefix = Guid.NewGuid().ToString("N")[..12] + "-";
    private static long _localCounter;

    public CloudEvent Create(object domainEvent, string? subject, bool withData) => new()
    {
        Id = withData ? Guid.NewGuid().ToString() : LocalPrefix + Interlocked.Increment(ref _localCounter).ToString(System.Globalization.CultureInfo.InvariantCulture),
        Source = _source,
        Type = registry.NameOf(domainEvent.GetType()),
        Time = time.GetUtcNow(),
        Subject = subject,
        DataContentType = withData ? "application/json" : null,
        Data = withData ? JsonSerializer.SerializeToElement(domainEvent, domainEvent.GetType(), _data) : null,
        TraceParent = Activity.Current is { IdFormat: ActivityIdFormat.W3C } current ? current.Id : null,
    };

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

/// <summary>In-process dispatch: handlers resolved in a new scope per dispatch.</summary>
internal sealed class DomainEventDispatcher(IServiceScopeFactory scopes, EventEnvelopes envelopes, IOptions<DomainEventsOptions> options) : IDomainEventDispatcher
{
    private static readonly ConcurrentDictionary<Type, HandlerInvoker> Invokers = new();
    private readonly DispatchStrategy _strategy = options.Value.DispatchStrategy;

    public ValueTask DispatchAsync<TEvent>(TEvent domainEvent, CancellationToken cancellationToken = default)
        where TEvent : notnull
    {
        ArgumentNullException.ThrowIfNull(domainEvent);
        return InvokeAsync(domainEvent, envelopes.Create(domainEvent, null, withData: false), cancellationToken);
    }

    public async ValueTask<bool> DispatchCloudEventAsync(CloudEvent cloudEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cloudEvent);
        if (envelopes.ReadData(cloudEvent) is not { } domainEvent)
        {
            return false;
        }

        await InvokeAsync(domainEvent, cloudEvent, cancellationToken).ConfigureAwait(false);
        return true;
    }

    private async ValueTask InvokeAsync(object domainEvent, CloudEvent envelope, CancellationToken cancellationToken)
    {
        HandlerInvoker invoker = Invokers.GetOrAdd(domainEvent.GetType(),
            static t => (HandlerInvoker)Activator.CreateInstance(typeof(HandlerInvoker<>).MakeGenericType(t))!);
        AsyncServiceScope scope = scopes.CreateAsyncScope();
        await using (scope.ConfigureAwait(false))
        {
            await invoker.InvokeAsync(scope.ServiceProvider, domainEvent, envelope, _strategy, cancellationToken).ConfigureAwait(false);
        }
    }
}
