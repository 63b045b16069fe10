namespace Lilith.DomainEvents;

/// <summary>
/// Handles one domain event type. Handlers are resolved from DI in a new scope per dispatch, so they may
/// depend on scoped services (a DbContext). The scope is skipped only where it would make no difference: when every
/// handler of the event type is a singleton (resolved once), or a non-disposable transient whose dependencies are all
/// singletons or such transients (resolved from the root provider). A handler that throws does not stop the other
/// handlers of the event.
/// </summary>
/// <typeparam name="TEvent">The event type (a plain record).</typeparam>
public interface IDomainEventHandler<in TEvent>
    where TEvent : notnull
{
    /// <summary>Handles the event. On a stream this may run more than once for one event (at-least-once delivery).</summary>
    /// <param name="domainEvent">The event data.</param>
    /// <param name="envelope">The CloudEvent that carried it (id, source, time, subject, extensions).</param>
    /// <param name="cancellationToken">Cancelled when the host stops.</param>
    ValueTask HandleAsync(TEvent domainEvent, CloudEvent envelope, CancellationToken cancellationToken);
}

/// <summary>Runs the in-process handlers of an event now, in the caller's flow (no transport).</summary>
public interface IDomainEventDispatcher
{
    /// <summary>Wraps <paramref name="domainEvent"/> in a CloudEvent and runs every handler registered for its type.</summary>
    /// <remarks>
    /// The envelope carries the configured source, the event type's name, the current trace and the time at
    /// millisecond resolution (with the system clock, read from a coarse clock that steps by 1 to 4 ms; exact with
    /// another <see cref="TimeProvider"/>); its id is unique in the process and formatted only when read.
    /// </remarks>
    /// <typeparam name="TEvent">The event type.</typeparam>
    /// <param name="domainEvent">The event.</param>
    /// <param name="cancellationToken">Cancels the dispatch.</param>
    /// <exception cref="DomainEventDispatchException">One or more handlers failed; every failure is listed.</exception>
    ValueTask DispatchAsync<TEvent>(TEvent domainEvent, CancellationToken cancellationToken = default)
        where TEvent : notnull;

    /// <summary>Reads the data of <paramref name="cloudEvent"/> into the type registered for its <c>type</c> and runs its handlers.</summary>
    /// <param name="cloudEvent">The event.</param>
    /// <param name="cancellationToken">Cancels the dispatch.</param>
    /// <returns>False when no event type is registered for the CloudEvent's <c>type</c> (nothing ran).</returns>
    /// <exception cref="DomainEventDispatchException">One or more handlers failed; every failure is listed.</exception>
    ValueTask<bool> DispatchCloudEventAsync(CloudEvent cloudEvent, CancellationToken cancellationToken = default);
}

/// <summary>Publishes domain events on the configured transport (Redis stream or in-memory).</summary>
public interface IDomainEventPublisher
{
    /// <summary>Wraps the event in a CloudEvent (new id, configured source, current time and trace) and publishes it.</summary>
    /// <typeparam name="TEvent">The event type.</typeparam>
    /// <param name="domainEvent">The event.</param>
    /// <param name="subject">The CloudEvents subject (an aggregate id), or null.</param>
    /// <param name="cancellationToken">Cancels the publish.</param>
    /// <returns>The CloudEvent that was published.</returns>
    /// <exception cref="DomainEventPublishException">The transport did not accept the event after the configured retries.</exception>
    ValueTask<CloudEvent> PublishAsync<TEvent>(TEvent domainEvent, string? subject = null, CancellationToken cancellationToken = default)
        where TEvent : notnull;

    /// <summary>Publishes a ready CloudEvent on <paramref name="stream"/> (default: the configured stream), waiting for the transport's reply.</summary>
    /// <param name="cloudEvent">The event.</param>
    /// <param name="stream">The stream name, or null for <see cref="DomainEventsOptions.Stream"/>.</param>
    /// <param name="cancellationToken">Cancels the publish.</param>
    /// <exception cref="DomainEventPublishException">The transport did not accept the event after the configured retries.</exception>
    ValueTask PublishCloudEventAsync(CloudEvent cloudEvent, string? stream = null, CancellationToken cancellationToken = default);

    /// <summary>Publishes many CloudEvents at once (pipelined on Redis) and waits for every reply.</summary>
    /// <param name="cloudEvents">The events, published in order.</param>
    /// <param name="stream">The stream name, or null for <see cref="DomainEventsOptions.Stream"/>.</param>
    /// <param name="cancellationToken">Cancels the publish.</param>
    /// <exception cref="DomainEventPublishException">Some events were not accepted after the configured retries.</exception>
    ValueTask PublishBatchAsync(IReadOnlyList<CloudEvent> cloudEvents, string? stream = null, CancellationToken cancellationToken = default);
}

/// <summary>Reads the dead-letter stream of a stream.</summary>
public interface IDeadLetterReader
{
    /// <summary>The oldest <paramref name="count"/> dead letters of <paramref name="stream"/>.</summary>
    /// <param name="stream">The stream name.</param>
    /// <param name="count">How many to read at most.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    ValueTask<IReadOnlyList<DeadLetter>> ReadAsync(string stream, int count, CancellationToken cancellationToken = default);
}

/// <summary>An entry that could not be handled and was moved to the dead-letter stream.</summary>
/// <param name="Stream">The stream it was read from.</param>
/// <param name="Group">The consumer group (service) that gave up on it.</param>
/// <param name="Consumer">The consumer that wrote the dead letter.</param>
/// <param name="EntryId">The entry's id on the source stream.</param>
/// <param name="Attempts">Handler attempts or deliveries counted when it was given up.</param>
/// <param name="Reason">Why: <c>handler-failed</c>, <c>too-many-deliveries</c>, <c>malformed</c>, <c>unknown-version</c>.</param>
/// <param name="Error">The last error message, when there was one.</param>
/// <param name="Event">The entry's <c>event</c> field as it was (may be unreadable), or null when missing.</param>
public sealed record DeadLetter(string Stream, string Group, string Consumer, string EntryId, int Attempts, string Reason, string? Error, string? Event);
