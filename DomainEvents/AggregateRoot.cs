namespace Lilith.DomainEvents;

/// <summary>
/// Base of an aggregate that raises domain events while it changes. The events are published after the unit
/// of work succeeded, with <see cref="DomainEventPublisherExtensions.PublishRaisedEventsAsync"/>, and then cleared.
/// </summary>
/// <example><code>
/// order.Place();                                   // calls Raise(new OrderPlaced(...))
/// await db.SaveChangesAsync(ct);                   // the unit of work
/// await publisher.PublishRaisedEventsAsync(order, ct);
/// </code></example>
public abstract class AggregateRoot
{
    private readonly List<object> _events = [];

    /// <summary>The events raised since the last <see cref="ClearDomainEvents"/>, in order.</summary>
    public IReadOnlyList<object> DomainEvents => _events;

    /// <summary>The CloudEvents subject of the events this aggregate raises (its id), or null.</summary>
    protected virtual string? EventSubject => null;

    internal string? Subject => EventSubject;

    /// <summary>Forgets the raised events (after they were published).</summary>
    public void ClearDomainEvents() => _events.Clear();

    /// <summary>Records an event to publish after the unit of work.</summary>
    /// <param name="domainEvent">The event.</param>
    protected void Raise(object domainEvent)
    {
        ArgumentNullException.ThrowIfNull(domainEvent);
        _events.Add(domainEvent);
    }
}

/// <summary>Publishing the events of aggregates.</summary>
public static class DomainEventPublisherExtensions
{
    /// <summary>
    /// Publishes the events each aggregate raised, in order, and clears each aggregate's list once all of its
    /// events were accepted. Call it after the unit of work committed; if it throws, the events not yet accepted stay on the aggregate.
    /// </summary>
    /// <param name="publisher">The publisher.</param>
    /// <param name="aggregate">The aggregate.</param>
    /// <param name="cancellationToken">Cancels the publish.</param>
    public static async ValueTask PublishRaisedEventsAsync(this IDomainEventPublisher publisher, AggregateRoot aggregate, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(publisher);
        ArgumentNullException.ThrowIfNull(aggregate);
        foreach (object domainEvent in aggregate.DomainEvents.ToArray())
        {
            await publisher.PublishAsync(domainEvent, aggregate.Subject, cancellationToken).ConfigureAwait(false);
        }

        aggregate.ClearDomainEvents();
    }
}
