using Lilith.DomainEvents;
using Microsoft.Extensions.DependencyInjection;

namespace Lilith.Demo.Parts;

/// <summary>Lilith.DomainEvents: an aggregate raises an event, it is published as a CloudEvent and handled.</summary>
public sealed class DomainEventsPart : IDemoPart
{
    /// <inheritdoc />
    public int Order => 50;

    /// <inheritdoc />
    public string Title => "Lilith.DomainEvents: CloudEvents on a stream, at-least-once";

    /// <inheritdoc />
    public void Configure(IServiceCollection services, DemoBackend backend)
    {
        services.AddSingleton<DemoInbox>();
        services.AddDomainEvents(o =>
        {
            o.Transport = backend.IsRedis ? DomainEventTransport.Redis : DomainEventTransport.InMemory;
            o.ServiceName = "demo";
            o.Stream = "demo-orders";
        }).AddHandler<DemoOrderPlaced, DemoOrderPlacedHandler>();
    }

    /// <inheritdoc />
    public async Task RunAsync(IServiceProvider services, TextWriter output, CancellationToken cancellationToken)
    {
        var order = new DemoOrder($"o-{Guid.NewGuid().ToString("N")[..6]}");
        order.Place(42.50m);
        await output.WriteLineAsync($"   aggregate {order.Id} raised {order.DomainEvents.Count} event(s); publishing after the unit of work");
        await services.GetRequiredService<IDomainEventPublisher>().PublishRaisedEventsAsync(order, cancellationToken);

        DemoInbox inbox = services.GetRequiredService<DemoInbox>();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(4));
        (DemoOrderPlaced e, CloudEvent envelope) = await inbox.Received.Task.WaitAsync(timeout.Token);
        await output.WriteLineAsync($"   handled {envelope.Type} id={envelope.Id[..8]}... source={envelope.Source} subject={envelope.Subject}: order {e.OrderId}, total {e.Total}");
    }

    /// <summary>The demo's event.</summary>
    [DomainEvent("com.lilith.demo.order.placed.v1")]
    public sealed record DemoOrderPlaced(string OrderId, decimal Total);

    /// <summary>The demo's aggregate.</summary>
    public sealed class DemoOrder(string id) : AggregateRoot
    {
        /// <summary>The order id.</summary>
        public string Id => id;

        /// <inheritdoc />
        protected override string? EventSubject => $"order/{id}";

        /// <summary>Places the order.</summary>
        public void Place(decimal total) => Raise(new DemoOrderPlaced(id, total));
    }

    /// <summary>Where the handler reports.</summary>
    public sealed class DemoInbox
    {
        /// <summary>Completed by the handler.</summary>
        public TaskCompletionSource<(DemoOrderPlaced, CloudEvent)> Received { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>The demo's handler.</summary>
    public sealed class DemoOrderPlacedHandler(DemoInbox inbox) : IDomainEventHandler<DemoOrderPlaced>
    {
        /// <inheritdoc />
        public ValueTask HandleAsync(DemoOrderPlaced domainEvent, CloudEvent envelope, CancellationToken cancellationToken)
        {
            inbox.Received.TrySetResult((domainEvent, envelope));
            return default;
        }
    }
}
