namespace Lilith.DomainEvents;

/// <summary>One or more handlers of an event failed; the others still ran. <see cref="AggregateException.InnerExceptions"/> lists every failure.</summary>
public sealed class DomainEventDispatchException : AggregateException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="eventType">The CloudEvents type of the event.</param>
    /// <param name="handlerCount">How many handlers ran.</param>
    /// <param name="failures">The failures, one per failed handler.</param>
    public DomainEventDispatchException(string eventType, int handlerCount, IReadOnlyList<Exception> failures)
        : base(Describe(eventType, handlerCount, failures), failures)
    {
        EventType = eventType;
        Message = Describe(eventType, handlerCount, failures);
    }

    /// <summary>How many handlers failed, and each failure's type and message.</summary>
    public override string Message { get; }

    /// <summary>The CloudEvents type of the event.</summary>
    public string EventType { get; }

    private static string Describe(string eventType, int handlerCount, IReadOnlyList<Exception> failures) =>
        $"{failures.Count} of {handlerCount} handlers of event type '{eventType}' failed: " +
        string.Join("; ", failures.Select(f => $"{f.GetType().Name}: {f.Message}"));
}

/// <summary>An event could not be published: the transport did not accept it after the configured retries.</summary>
public sealed class DomainEventPublishException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed, naming the stream, the event id and the attempts.</param>
    /// <param name="innerException">The last transport error.</param>
    public DomainEventPublishException(string message, Exception? innerException) : base(message, innerException)
    {
    }
}
