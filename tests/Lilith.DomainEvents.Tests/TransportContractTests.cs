using Lilith.DomainEvents.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace Lilith.DomainEvents.Tests;

/// <summary>The behaviour both transports must show; run once per transport by the sealed subclasses below.</summary>
public abstract class TransportContractTests
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(15);

    protected CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Configures the transport under test (and a fresh key space).</summary>
    protected abstract void UseTransport(DomainEventsOptions options);

    /// <summary>Registers what the transport needs (a Redis connection).</summary>
    protected virtual void AddServices(IServiceCollection services)
    {
    }

    /// <summary>Writes an entry with raw fields, as another writer (or a broken one) might.</summary>
    protected abstract Task AddRawAsync(IHost host, string stream, string? version, string? eventField);

    private IHost Build(Recorder recorder, Action<DomainEventsOptions>? configure = null, Action<IServiceCollection>? after = null)
    {
        return EventsHost.Build(recorder, o =>
        {
            UseTransport(o);
            configure?.Invoke(o);
        }, AddServices, after: after);
    }

    [Fact]
    public async Task A_published_event_reaches_its_handler_with_its_envelope()
    {
        var recorder = new Recorder();
        using IHost host = Build(recorder);
        await host.StartAsync(Ct);
        CloudEvent sent = await host.Services.GetRequiredService<IDomainEventPublisher>().PublishAsync(new OrderPlaced("o-1", 42.5m), "order/o-1", Ct);

        await EventsHost.WaitUntilAsync(() => !recorder.Seen.IsEmpty, Within, "the handler saw the event");
        (OrderPlaced e, CloudEvent envelope) = Assert.Single(recorder.Seen);
        Assert.Equal(new OrderPlaced("o-1", 42.5m), e);
        Assert.Equal(sent.Id, envelope.Id);
        Assert.Equal("com.example.order.placed.v1", envelope.Type);
        Assert.Equal("/billing", envelope.Source);
        Assert.Equal("order/o-1", envelope.Subject);
        Assert.Equal("application/json", envelope.DataContentType);
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task A_handler_that_keeps_failing_is_retried_then_dead_lettered_with_the_reason_and_the_consumer_goes_on()
    {
        var recorder = new Recorder { FailWhen = (e, _, _) => e.OrderId == "bad" };
        using IHost host = Build(recorder, o => o.MaxAttempts = 3);
        await host.StartAsync(Ct);
        IDomainEventPublisher publisher = host.Services.GetRequiredService<IDomainEventPublisher>();
        CloudEvent bad = await publisher.PublishAsync(new OrderPlaced("bad", 1), cancellationToken: Ct);
        CloudEvent good = await publisher.PublishAsync(new OrderPlaced("good", 2), cancellationToken: Ct);

        DeadLetter letter = Assert.Single(await EventsHost.WaitForDeadLettersAsync(host, 1, Within));
        await EventsHost.WaitUntilAsync(() => recorder.Successes.ContainsKey(good.Id), Within, "the next event was handled");
        Assert.Equal("handler-failed", letter.Reason);
        Assert.Equal(3, letter.Attempts);
        Assert.Equal(3, recorder.Attempts[bad.Id]);
        Assert.Contains("handler failed on purpose", letter.Error, StringComparison.Ordinal);
        Assert.Equal("orders", letter.Stream);
        Assert.Equal("billing", letter.Group);
        Assert.Equal(bad.Id, CloudEvent.Parse(letter.Event!).Id);
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task A_transient_failure_is_retried_and_then_handled_without_a_dead_letter()
    {
        var recorder = new Recorder { FailWhen = (_, _, attempt) => attempt < 3 };
        using IHost host = Build(recorder, o => o.MaxAttempts = 3);
        await host.StartAsync(Ct);
        CloudEvent sent = await host.Services.GetRequiredService<IDomainEventPublisher>().PublishAsync(new OrderPlaced("o-2", 1), cancellationToken: Ct);

        await EventsHost.WaitUntilAsync(() => recorder.Successes.ContainsKey(sent.Id), Within, "the third attempt succeeded");
        Assert.Equal(3, recorder.Attempts[sent.Id]);
        Assert.Empty(await host.Services.GetRequiredService<IDeadLetterReader>().ReadAsync("orders", 10, Ct));
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task Malformed_entries_go_to_the_dead_letter_stream_and_the_consumer_goes_on()
    {
        var recorder = new Recorder();
        using IHost host = Build(recorder);
        await host.StartAsync(Ct);
        await AddRawAsync(host, "orders", "1", "this is not json");
        await AddRawAsync(host, "orders", "1", """{"id":"x-1","source":"/ts","type":"com.example.order.placed.v1"}""");
        await AddRawAsync(host, "orders", "1", null);
        await AddRawAsync(host, "orders", "2", """{"specversion":"1.0","id":"x-2","source":"/ts","type":"com.example.order.placed.v1"}""");
        CloudEvent good = await host.Services.GetRequiredService<IDomainEventPublisher>().PublishAsync(new OrderPlaced("good", 2), cancellationToken: Ct);

        IReadOnlyList<DeadLetter> letters = await EventsHost.WaitForDeadLettersAsync(host, 4, Within);
        await EventsHost.WaitUntilAsync(() => recorder.Successes.ContainsKey(good.Id), Within, "the good event was handled");
        Assert.Equal(["malformed", "malformed", "malformed", "unknown-version"], letters.Select(l => l.Reason).Order().ToArray());
        Assert.Contains(letters, l => l.Error!.Contains("not valid JSON", StringComparison.Ordinal) && l.Event == "this is not json");
        Assert.Contains(letters, l => l.Error!.Contains("specversion", StringComparison.Ordinal));
        Assert.Contains(letters, l => l.Error!.Contains("schema version 2 is not known", StringComparison.Ordinal));
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task An_event_published_twice_with_the_same_source_and_id_is_handled_once()
    {
        var recorder = new Recorder();
        using IHost host = Build(recorder);
        await host.StartAsync(Ct);
        IDomainEventPublisher publisher = host.Services.GetRequiredService<IDomainEventPublisher>();
        CloudEvent first = await publisher.PublishAsync(new OrderPlaced("dup", 1), cancellationToken: Ct);
        await publisher.PublishCloudEventAsync(first, cancellationToken: Ct);
        CloudEvent marker = await publisher.PublishAsync(new OrderPlaced("after", 1), cancellationToken: Ct);

        await EventsHost.WaitUntilAsync(() => recorder.Successes.ContainsKey(marker.Id), Within, "the event after the duplicate was handled");
        Assert.Equal(1, recorder.Attempts[first.Id]);
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task The_consumer_handles_the_next_entry_while_the_reply_to_an_acknowledgement_is_outstanding()
    {
        var recorder = new Recorder();
        using IHost host = Build(recorder, o =>
        {
            o.ConsumerName = "billing-1";
            o.Concurrency = 1;
        }, HeldAcknowledgements.Decorate);
        HeldAcknowledgements store = host.Services.GetRequiredService<HeldAcknowledgements>();
        IDomainEventPublisher publisher = host.Services.GetRequiredService<IDomainEventPublisher>();
        // Both entries are there before the consumer starts, so its first read returns them as one batch.
        CloudEvent first = await publisher.PublishAsync(new OrderPlaced("first", 1), cancellationToken: Ct);
        CloudEvent second = await publisher.PublishAsync(new OrderPlaced("second", 2), cancellationToken: Ct);
        await host.StartAsync(Ct);

        // One at a time (Concurrency 1), and the first acknowledgement unanswered: the second was handled anyway.
        await EventsHost.WaitUntilAsync(() => recorder.Successes.ContainsKey(second.Id), Within, "the second entry was handled");
        Assert.Equal(1, recorder.Successes[first.Id]);
        Internal.StreamConsumer consumer = host.Services.GetRequiredService<Internal.StreamConsumer>();
        Assert.Equal(0, consumer.HandledCount);
        Assert.Equal(2, store.Started);
        Assert.Equal(2, (await store.ReadOwnPendingAsync("orders", "billing", "billing-1", "0", 10, Ct)).Count);

        store.Release();
        await EventsHost.WaitUntilAsync(() => consumer.HandledCount == 2, Within, "both acknowledgements were answered");
        Assert.Empty(await store.ReadOwnPendingAsync("orders", "billing", "billing-1", "0", 10, Ct));
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task A_second_delivery_of_an_event_whose_acknowledgement_is_unanswered_waits_for_it_and_is_skipped()
    {
        var recorder = new Recorder();
        using IHost host = Build(recorder, o => o.ConsumerName = "billing-1", HeldAcknowledgements.Decorate);
        HeldAcknowledgements store = host.Services.GetRequiredService<HeldAcknowledgements>();
        IDomainEventPublisher publisher = host.Services.GetRequiredService<IDomainEventPublisher>();
        CloudEvent sent = await publisher.PublishAsync(new OrderPlaced("dup", 1), cancellationToken: Ct);
        await publisher.PublishCloudEventAsync(sent, cancellationToken: Ct);
        await host.StartAsync(Ct);

        await EventsHost.WaitUntilAsync(() => recorder.Successes.ContainsKey(sent.Id), Within, "one delivery was handled");
        // The handled marker is written with the acknowledgement: the other delivery must wait for its reply.
        store.Release();
        using var deadline = new CancellationTokenSource(Within);
        while ((await store.ReadOwnPendingAsync("orders", "billing", "billing-1", "0", 10, Ct)).Count > 0)
        {
            Assert.False(deadline.IsCancellationRequested, "the two deliveries were never both acknowledged");
            await Task.Delay(5, Ct);
        }

        Assert.Equal(1, recorder.Attempts[sent.Id]);
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task Two_events_whose_source_and_id_join_to_the_same_text_are_both_handled()
    {
        var recorder = new Recorder();
        using IHost host = Build(recorder);
        await host.StartAsync(Ct);
        IDomainEventPublisher publisher = host.Services.GetRequiredService<IDomainEventPublisher>();
        CloudEvent Event(string source, string id) => new()
        {
            Id = id,
            Source = source,
            Type = "com.example.order.placed.v1",
            DataContentType = "application/json",
            Data = System.Text.Json.JsonSerializer.SerializeToElement(new { orderId = source + id, total = 1 }),
        };

        // "/s:1" + ":" + "2" and "/s" + ":" + "1:2" are the same text; they are two events.
        await publisher.PublishCloudEventAsync(Event("/s:1", "2"), cancellationToken: Ct);
        await EventsHost.WaitUntilAsync(() => recorder.Successes.ContainsKey("2"), Within, "the first event was handled");
        await publisher.PublishCloudEventAsync(Event("/s", "1:2"), cancellationToken: Ct);

        await EventsHost.WaitUntilAsync(() => recorder.Successes.ContainsKey("2") && recorder.Successes.ContainsKey("1:2"), Within, "both events were handled");
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task A_waiting_read_returns_the_entry_added_while_it_waits()
    {
        using IHost host = Build(new Recorder(), o => o.ConsumeStreams = false);
        IStreamStore store = host.Services.GetRequiredService<IStreamStore>();
        await store.EnsureGroupAsync("orders", "billing", Ct);
        Task<IReadOnlyList<Internal.StreamEntry>> waiting = store.WaitNewAsync("orders", "billing", "billing-1", 10, TimeSpan.FromSeconds(60), Ct).AsTask();

        await AddRawAsync(host, "orders", "1", "{}");

        // The wait is 60 s: returning within the bound means the add ended it.
        Internal.StreamEntry entry = Assert.Single(await waiting.WaitAsync(Within, Ct));
        Assert.Equal("{}", entry.Event);
    }

    [Fact]
    public async Task Stale_pending_entries_of_a_dead_consumer_are_claimed_and_handled()
    {
        var recorder = new Recorder();
        using IHost host = Build(recorder, o =>
        {
            o.ClaimIdleTime = TimeSpan.FromMilliseconds(200);
            o.ClaimInterval = TimeSpan.FromMilliseconds(50);
        });
        IStreamStore store = host.Services.GetRequiredService<IStreamStore>();
        CloudEvent sent = await host.Services.GetRequiredService<IDomainEventPublisher>().PublishAsync(new OrderPlaced("orphan", 1), cancellationToken: Ct);
        await store.EnsureGroupAsync("orders", "billing", Ct);
        Assert.Single(await store.ReadNewAsync("orders", "billing", "dead-consumer", 10, Ct));

        await host.StartAsync(Ct);
        await EventsHost.WaitUntilAsync(() => recorder.Successes.ContainsKey(sent.Id), Within, "the orphaned entry was claimed and handled");
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task On_restart_a_consumer_first_drains_its_own_pending_entries()
    {
        var recorder = new Recorder();
        using IHost host = Build(recorder, o =>
        {
            o.ConsumerName = "billing-1";
            o.ClaimIdleTime = TimeSpan.FromHours(1);
        });
        IStreamStore store = host.Services.GetRequiredService<IStreamStore>();
        CloudEvent sent = await host.Services.GetRequiredService<IDomainEventPublisher>().PublishAsync(new OrderPlaced("mine", 1), cancellationToken: Ct);
        await store.EnsureGroupAsync("orders", "billing", Ct);
        Internal.StreamEntry read = Assert.Single(await store.ReadNewAsync("orders", "billing", "billing-1", 10, Ct));

        await host.StartAsync(Ct);
        await EventsHost.WaitUntilAsync(() => recorder.Successes.ContainsKey(sent.Id), Within, "the own pending entry was drained");
        using var deadline = new CancellationTokenSource(Within);
        while ((await store.ReadOwnPendingAsync("orders", "billing", "billing-1", "0", 10, Ct)).Count > 0)
        {
            Assert.False(deadline.IsCancellationRequested, "the drained entry was never acknowledged");
            await Task.Delay(5, Ct);
        }

        Assert.NotNull(read.Event);
        await host.StopAsync(Ct);
    }
}

public sealed class InMemoryTransportContractTests : TransportContractTests
{
    protected override void UseTransport(DomainEventsOptions options) => options.Transport = DomainEventTransport.InMemory;

    protected override Task AddRawAsync(IHost host, string stream, string? version, string? eventField)
    {
        ((InMemoryStreamStore)host.Services.GetRequiredService<IStreamStore>()).AddRaw(stream, version, eventField);
        return Task.CompletedTask;
    }
}

public sealed class RedisTransportContractTests(RedisFixture redis) : TransportContractTests
{
    private readonly string _prefix = RedisFixture.NewPrefix();

    protected override void UseTransport(DomainEventsOptions options)
    {
        options.Transport = DomainEventTransport.Redis;
        options.KeyPrefix = _prefix;
    }

    protected override void AddServices(IServiceCollection services) =>
        services.AddSingleton(redis.ConnectionAsync().GetAwaiter().GetResult());

    protected override async Task AddRawAsync(IHost host, string stream, string? version, string? eventField)
    {
        IDatabase db = (await redis.ConnectionAsync()).GetDatabase();
        var fields = new List<NameValueEntry>();
        if (version is not null)
        {
            fields.Add(new NameValueEntry("v", version));
        }

        if (eventField is not null)
        {
            fields.Add(new NameValueEntry("event", eventField));
        }

        if (fields.Count == 0)
        {
            fields.Add(new NameValueEntry("other", "x"));
        }

        await db.StreamAddAsync($"{_prefix}:events:{{{stream}}}", fields.ToArray());
    }
}
