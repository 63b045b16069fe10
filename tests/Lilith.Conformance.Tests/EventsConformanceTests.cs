using System.Collections.Concurrent;
using System.Text.Json;
using Lilith.DomainEvents;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Lilith.Conformance.Tests;

/// <summary>The event both sides exchange; its CloudEvents type is what the sibling publishes.</summary>
[DomainEvent("com.example.order.placed.v1")]
public sealed record OrderPlaced(string OrderId, decimal Total);

/// <summary>Records what the C# consumer handled.</summary>
public sealed class Received
{
    public ConcurrentQueue<(OrderPlaced Event, CloudEvent Envelope)> Events { get; } = new();
}

/// <summary>The C# handler of <see cref="OrderPlaced"/>.</summary>
public sealed class RecordOrderPlaced(Received received) : IDomainEventHandler<OrderPlaced>
{
    public ValueTask HandleAsync(OrderPlaced domainEvent, CloudEvent envelope, CancellationToken cancellationToken)
    {
        received.Events.Enqueue((domainEvent, envelope));
        return default;
    }
}

/// <summary>schema/domain-events.md from both sides: CloudEvents on one stream, consumer groups, acknowledgement.</summary>
public sealed class EventsConformanceTests(RedisFixture redis) : ConformanceScenario(redis)
{
    [Theory]
    [MemberData(nameof(Sibling.Languages), MemberType = typeof(Sibling))]
    public async Task Sibling_publishes_a_CloudEvent_and_the_CSharp_handler_receives_and_acknowledges_it(string language)
    {
        Sibling sibling = await SiblingAsync(language);
        var received = new Received();
        using IHost host = await HostAsync(sibling.Prefix, "billing", consume: true, received);
        await host.StartAsync(Ct);

        JsonElement published = await sibling.RunAsync("events-publish", "--stream", "orders", "--type", "com.example.order.placed.v1",
            "--source", $"/{language}-shop", "--subject", "order/o-1", "--data", """{"orderId":"o-1","total":42.5}""");
        await Eventually.TrueAsync(() => !received.Events.IsEmpty, "the C# handler receives the sibling's event");
        (OrderPlaced order, CloudEvent envelope) = Assert.Single(received.Events);
        Assert.Equal(new OrderPlaced("o-1", 42.5m), order);
        JsonElement sent = published.GetProperty("event");
        Assert.Equal((sent.GetProperty("id").GetString(), $"/{language}-shop", "com.example.order.placed.v1", "order/o-1"),
            (envelope.Id, envelope.Source, envelope.Type, envelope.Subject));
        Assert.NotNull(envelope.Time);

        // Acknowledged after the handler: nothing stays pending in the C# service's group.
        await Eventually.TrueAsync(async () => (await sibling.RunAsync("events-pending", "--stream", "orders", "--group", "billing")).GetProperty("pending").GetInt32() == 0,
            "the C# consumer acknowledges the entry");
        await host.StopAsync(Ct);
    }

    [Theory]
    [MemberData(nameof(Sibling.Languages), MemberType = typeof(Sibling))]
    public async Task CSharp_publishes_a_CloudEvent_and_the_sibling_consumes_and_acknowledges_it(string language)
    {
        Sibling sibling = await SiblingAsync(language);
        using IHost host = await HostAsync(sibling.Prefix, "shop", consume: false, new Received());
        IDomainEventPublisher publisher = host.Services.GetRequiredService<IDomainEventPublisher>();

        await publisher.PublishAsync(new OrderPlaced("o-2", 7.25m), subject: "order/o-2", Ct);
        JsonElement consumed = await sibling.RunAsync("events-consume", "--stream", "orders", "--group", "audit", "--count", "1", "--timeout-ms", "15000");
        JsonElement e = Assert.Single(consumed.GetProperty("events").EnumerateArray()).GetProperty("event");
        Assert.Equal(("1.0", "com.example.order.placed.v1", "/shop", "order/o-2"),
            (e.GetProperty("specversion").GetString(), e.GetProperty("type").GetString(), e.GetProperty("source").GetString(), e.GetProperty("subject").GetString()));
        Assert.Equal(("o-2", 7.25m), (e.GetProperty("data").GetProperty("orderId").GetString(), e.GetProperty("data").GetProperty("total").GetDecimal()));
        Assert.Empty(consumed.GetProperty("deadLetters").EnumerateArray());
        Assert.Equal(0, (await sibling.RunAsync("events-pending", "--stream", "orders", "--group", "audit")).GetProperty("pending").GetInt32());
    }

    private async Task<IHost> HostAsync(string prefix, string service, bool consume, Received received)
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton(await Redis.NewConnectionAsync());
        builder.Services.AddSingleton(received);
        builder.Services.AddDomainEvents(o =>
        {
            o.Transport = DomainEventTransport.Redis;
            o.KeyPrefix = prefix;
            o.ServiceName = service;
            o.Stream = "orders";
            o.ConsumeStreams = consume;
            o.PollInterval = TimeSpan.FromMilliseconds(5);
        }).AddHandler<OrderPlaced, RecordOrderPlaced>();
        return builder.Build();
    }
}
