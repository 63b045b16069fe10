using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Lilith.DomainEvents.Internal;

/// <summary>The package's one ActivitySource and one Meter, both named <c>Lilith.DomainEvents</c>.</summary>
internal static class DomainEventsTelemetry
{
    public const string Name = "Lilith.DomainEvents";

    public static readonly ActivitySource Source = new(Name);

    public static readonly Meter Meter = new(Name);

    public static readonly Counter<long> Published = Meter.CreateCounter<long>("lilith.domain_events.published", "{event}", "Events accepted by the transport.");

    public static readonly Counter<long> Handled = Meter.CreateCounter<long>("lilith.domain_events.handled", "{event}", "Entries handled and acknowledged.");

    public static readonly Counter<long> Retried = Meter.CreateCounter<long>("lilith.domain_events.retried", "{attempt}", "Handler attempts that failed and were retried.");

    public static readonly Counter<long> DeadLettered = Meter.CreateCounter<long>("lilith.domain_events.dead_lettered", "{event}", "Entries moved to a dead-letter stream.");

    public static readonly Counter<long> DroppedUnread = Meter.CreateCounter<long>("lilith.domain_events.dropped_unread", "{event}",
        "Entries the hard stream cap removed before every consumer group had acknowledged them.");

    public static readonly Histogram<double> Lag = Meter.CreateHistogram<double>("lilith.domain_events.lag", "ms", "From the event's time to the end of its handling.");
}
