using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace Lilith.DomainEvents.Tests;

/// <summary>At-least-once delivery on a real Redis: load with failures and a consumer crash, server restarts, raw writers.</summary>
public sealed class RedisDeliveryTests(RedisFixture redis)
{
    private CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Ten_thousand_events_with_20_percent_failures_a_consumer_crash_and_restart_and_trims_under_load_are_each_handled_or_dead_lettered()
    {
        const int Total = 10_000;
        const int MaxAttempts = 3;
        string prefix = RedisFixture.NewPrefix();
        var recorder = new Recorder { FailWhen = (_, _, _) => Random.Shared.NextDouble() < 0.2 };
        IConnectionMultiplexer shared = await redis.ConnectionAsync();
        IConnectionMultiplexer connectionA = await redis.NewConnectionAsync();
        IConnectionMultiplexer connectionB = await redis.NewConnectionAsync();
        void Consumer(DomainEventsOptions o, string name)
        {
            o.Transport = DomainEventTransport.Redis;
            o.KeyPrefix = prefix;
            o.ConsumerName = name;
            o.MaxAttempts = MaxAttempts;
            o.Concurrency = 16;
            o.BatchSize = 100;
            o.ClaimIdleTime = TimeSpan.FromMilliseconds(500);
            o.ClaimInterval = TimeSpan.FromMilliseconds(100);
        }

        // Retention under load: above 1,000 entries every publish may trim what both consumers' group acknowledged.
        const int MaxStreamLength = 1000;
        using IHost publisherHost = EventsHost.Build(new Recorder(), o =>
        {
            o.Transport = DomainEventTransport.Redis;
            o.KeyPrefix = prefix;
            o.ConsumeStreams = false;
            o.MaxStreamLength = MaxStreamLength;
            o.RetentionInterval = TimeSpan.FromMilliseconds(10);
        }, s => s.AddSingleton(shared), handler: false);
        using IHost a = EventsHost.Build(recorder, o => Consumer(o, "billing-a"), s => s.AddSingleton(connectionA));
        using IHost b = EventsHost.Build(recorder, o => Consumer(o, "billing-b"), s => s.AddSingleton(connectionB));
        await publisherHost.StartAsync(Ct);
        await a.StartAsync(Ct);
        await b.StartAsync(Ct);

        IDomainEventPublisher publisher = publisherHost.Services.GetRequiredService<IDomainEventPublisher>();
        var ids = new List<string>(Total);
        DateTimeOffset now = TimeProvider.System.GetUtcNow();
        for (int chunk = 0; chunk < Total / 1000; chunk++)
        {
            var events = Enumerable.Range(chunk * 1000, 1000).Select(i => new CloudEvent
            {
                Id = $"evt-{i}",
                Source = "/orders-service",
                Type = "com.example.order.placed.v1",
                DataContentType = "application/json",
                Time = now,
                Data = System.Text.Json.JsonSerializer.SerializeToElement(new { orderId = $"o-{i}", total = i }),
            }).ToList();
            await publisher.PublishBatchAsync(events, cancellationToken: Ct);
            ids.AddRange(events.Select(e => e.Id));
        }

        // Stop consumer A abruptly mid-run: its connection closes under in-flight entries, which stay pending.
        await EventsHost.WaitUntilAsync(() => recorder.Attempts.Count >= Total / 4, TimeSpan.FromSeconds(30), "a quarter of the events were attempted");
        await connectionA.CloseAsync(allowCommandsToComplete: false);
        await a.StopAsync(Ct);
        int attemptedAtCrash = recorder.Attempts.Count;

        // Consumer A starts again under its name: it drains the entries it held when it crashed.
        IConnectionMultiplexer connectionA2 = await redis.NewConnectionAsync();
        using IHost a2 = EventsHost.Build(recorder, o => Consumer(o, "billing-a"), s => s.AddSingleton(connectionA2));
        await a2.StartAsync(Ct);
        Internal.StreamRetention retention = publisherHost.Services.GetRequiredService<Internal.StreamRetention>();
        long trimmed = 0;

        IDeadLetterReader deadLetters = b.Services.GetRequiredService<IDeadLetterReader>();
        IDatabase db = shared.GetDatabase();
        string streamKey = $"{prefix}:events:{{orders}}";
        IReadOnlyList<DeadLetter> letters = [];
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            // Trims while the consumers still handle, retry, claim and drain: only acknowledged entries may go.
            trimmed += (await retention.TrimAsync("orders", Ct)).Acknowledged;
            letters = await deadLetters.ReadAsync("orders", Total, Ct);
            StreamPendingInfo pending = await db.StreamPendingAsync(streamKey, "billing");
            var dead = letters.Select(l => CloudEvent.Parse(l.Event!).Id).ToHashSet();
            if (pending.PendingMessageCount == 0 && ids.All(id => recorder.Successes.ContainsKey(id) || dead.Contains(id)))
            {
                break;
            }

            Assert.False(deadline.IsCancellationRequested,
                $"Not settled in 60 s: {pending.PendingMessageCount} pending, {recorder.Successes.Count} handled, {dead.Count} dead-lettered of {Total}.");
            await Task.Delay(50, Ct);
        }

        var deadIds = letters.Select(l => CloudEvent.Parse(l.Event!).Id).ToList();
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{recorder.Successes.Count} handled, {deadIds.Count} dead-lettered, {recorder.Successes.Values.Count(n => n > 1)} handled more than once, " +
            $"{recorder.Attempts.Values.Sum()} attempts; consumer A stopped after {attemptedAtCrash} events were attempted; {trimmed} entries trimmed while settling.");
        Assert.True(attemptedAtCrash < Total, "consumer A was stopped before all events were attempted");
        Assert.Equal(Total, ids.Count(id => recorder.Successes.ContainsKey(id) || deadIds.Contains(id)));
        Assert.Equal(deadIds.Count, deadIds.Distinct().Count());
        Assert.NotEmpty(deadIds);
        foreach (DeadLetter letter in letters)
        {
            Assert.Contains(letter.Reason, new[] { "handler-failed", "too-many-deliveries" });
            Assert.Equal(MaxAttempts, letter.Attempts);
            if (letter.Reason == "handler-failed")
            {
                Assert.Contains("handler failed on purpose", letter.Error, StringComparison.Ordinal);
            }

            Assert.True(recorder.Failures.GetValueOrDefault(CloudEvent.Parse(letter.Event!).Id) >= 1);
        }

        // None merged: every handled envelope carried its own event's data.
        Assert.All(recorder.Seen, seen => Assert.Equal("o-" + seen.Envelope.Id["evt-".Length..], seen.Event.OrderId));
        // Ids that never succeeded are exactly in the dead-letter stream: none lost.
        Assert.All(ids.Where(id => !recorder.Successes.ContainsKey(id)), id => Assert.Contains(id, deadIds));
        // Every entry is acknowledged now: the trim takes the stream back to its length, and nothing is pending.
        await retention.TrimAsync("orders", Ct);
        Assert.True(await db.StreamLengthAsync(streamKey) <= MaxStreamLength, "the acknowledged entries were trimmed");
        await a2.StopAsync(Ct);
        await b.StopAsync(Ct);
        await publisherHost.StopAsync(Ct);
    }

    [Trait("Redis", "own-servers")]
    [Fact]
    public async Task Consumption_resumes_by_itself_after_the_server_is_killed_and_restarted()
    {
        string dir = Directory.CreateTempSubdirectory("lilith-events-aof-").FullName;
        RedisServerProcess server = await redis.StartOwnedServerAsync(["--appendonly", "yes", "--appendfsync", "always", "--dir", dir]);
        var recorder = new Recorder { Delay = ct => Task.Delay(1, ct) };
        void Redis(DomainEventsOptions o)
        {
            o.Transport = DomainEventTransport.Redis;
            o.ConnectionString = server.ConnectionString;
            o.KeyPrefix = "lilith";
            o.PublishAttempts = 8;
            o.PublishRetryDelay = TimeSpan.FromMilliseconds(100);
            o.Concurrency = 2;
            o.BatchSize = 10;
            o.ClaimIdleTime = TimeSpan.FromMilliseconds(500);
            o.ClaimInterval = TimeSpan.FromMilliseconds(200);
        }

        using IHost consumer = EventsHost.Build(recorder, Redis);
        using IHost publisherHost = EventsHost.Build(new Recorder(), o =>
        {
            Redis(o);
            o.ConsumeStreams = false;
        }, handler: false);
        await consumer.StartAsync(Ct);
        await publisherHost.StartAsync(Ct);
        IDomainEventPublisher publisher = publisherHost.Services.GetRequiredService<IDomainEventPublisher>();
        var ids = new ConcurrentBag<string>();
        for (int i = 0; i < 300; i++)
        {
            ids.Add((await publisher.PublishAsync(new OrderPlaced($"before-{i}", i), cancellationToken: Ct)).Id);
        }

        await EventsHost.WaitUntilAsync(() => recorder.Successes.Count >= 20, TimeSpan.FromSeconds(15), "consumption started");
        await server.KillAsync();
        int handledWhenKilled = recorder.Successes.Count;
        await server.RestartAsync(Ct);
        for (int i = 0; i < 50; i++)
        {
            ids.Add((await publisher.PublishAsync(new OrderPlaced($"after-{i}", i), cancellationToken: Ct)).Id);
        }

        await EventsHost.WaitUntilAsync(() => ids.All(recorder.Successes.ContainsKey), TimeSpan.FromSeconds(45),
            "every event published before the kill and after the restart was handled");
        Assert.True(handledWhenKilled < 300, $"the kill happened mid-consumption ({handledWhenKilled} of 300 handled)");
        await consumer.StopAsync(Ct);
        await publisherHost.StopAsync(Ct);
    }

    /// <summary>Connections blocked in XREADGROUP on a server (CLIENT LIST: flags containing b, last command xreadgroup).</summary>
    private static async Task<int> BlockedReadersAsync(IConnectionMultiplexer connection)
    {
        string list = (string)(await connection.GetDatabase().ExecuteAsync("CLIENT", "LIST"))!;
        return list.Split('\n').Count(line =>
            line.Contains("cmd=xreadgroup", StringComparison.Ordinal) &&
            line.Split(' ').Any(field => field.StartsWith("flags=", StringComparison.Ordinal) && field.Contains('b', StringComparison.Ordinal)));
    }

    private static async Task WaitForBlockedReaderAsync(IConnectionMultiplexer connection, string what)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (await BlockedReadersAsync(connection) == 0)
        {
            Assert.False(deadline.IsCancellationRequested, $"Timed out after 20 s waiting until {what}.");
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public async Task With_replica_acknowledgements_a_publish_no_replica_confirms_is_refused_and_one_that_is_confirmed_returns()
    {
        string prefix = RedisFixture.NewPrefix();
        IConnectionMultiplexer connection = await redis.ConnectionAsync();
        int replicas = (int)(long)(await connection.GetServer(connection.GetEndPoints()[0]).ExecuteAsync("WAIT", 0, 0));
        void Options(DomainEventsOptions o, int wanted)
        {
            o.Transport = DomainEventTransport.Redis;
            o.KeyPrefix = prefix;
            o.ConsumeStreams = false;
            o.PublishAttempts = 2;
            o.PublishRetryDelay = TimeSpan.FromMilliseconds(10);
            o.ReplicaAcknowledgements = wanted;
            o.ReplicaAcknowledgementTimeout = TimeSpan.FromMilliseconds(100);
        }

        // The fixture's server has no replicas (the cluster pass: no replicas either), so asking for one more than it has is refused.
        using IHost strict = EventsHost.Build(new Recorder(), o => Options(o, replicas + 1), s => s.AddSingleton(connection), handler: false);
        await strict.StartAsync(Ct);
        IDomainEventPublisher publisher = strict.Services.GetRequiredService<IDomainEventPublisher>();
        DomainEventPublishException single = await Assert.ThrowsAsync<DomainEventPublishException>(
            async () => await publisher.PublishAsync(new OrderPlaced("o-1", 1m), cancellationToken: Ct));
        Assert.Contains($"0 of {replicas + 1} replicas", single.Message, StringComparison.Ordinal);
        Assert.Contains("DomainEventsOptions.ReplicaAcknowledgements", single.Message, StringComparison.Ordinal);
        CloudEvent[] batch = [new CloudEvent { Id = "b-1", Source = "/t", Type = "com.example.t.v1" }, new CloudEvent { Id = "b-2", Source = "/t", Type = "com.example.t.v1" }];
        DomainEventPublishException many = await Assert.ThrowsAsync<DomainEventPublishException>(
            async () => await publisher.PublishBatchAsync(batch, cancellationToken: Ct));
        Assert.StartsWith("2 of 2 events were not accepted", many.Message, StringComparison.Ordinal);
        await strict.StopAsync(Ct);

        // Asking for what the server has (0 here: WAIT answers at once) publishes as usual.
        using IHost satisfied = EventsHost.Build(new Recorder(), o => Options(o, Math.Max(replicas, 0)), s => s.AddSingleton(connection), handler: false);
        await satisfied.StartAsync(Ct);
        await satisfied.Services.GetRequiredService<IDomainEventPublisher>().PublishAsync(new OrderPlaced("o-2", 2m), cancellationToken: Ct);
        await satisfied.StopAsync(Ct);
    }

    private static void BlockingConsumer(DomainEventsOptions o, RedisServerProcess server)
    {
        o.Transport = DomainEventTransport.Redis;
        o.ConnectionString = server.ConnectionString;
        // Nothing but an added entry can end a read early: the server waits 60 s, claims are due every 60 s.
        o.ReadBlockTime = TimeSpan.FromSeconds(60);
        o.ClaimInterval = TimeSpan.FromSeconds(60);
    }

    [Trait("Redis", "own-servers")]
    [Fact]
    public async Task A_consumer_blocked_on_an_empty_stream_is_woken_by_an_entry_from_any_writer_and_stops_at_once()
    {
        RedisServerProcess server = await redis.StartOwnedServerAsync();
        await using IConnectionMultiplexer observer = await RedisFixture.ConnectAsync(server.ConnectionString);
        var recorder = new Recorder();
        using IHost consumer = EventsHost.Build(recorder, o =>
        {
            BlockingConsumer(o, server);
            // The non-blocking safety net would take 60 s too: delivery within the test's bound comes from the wake-up.
            o.PollInterval = TimeSpan.FromSeconds(60);
        });
        await consumer.StartAsync(Ct);
        await WaitForBlockedReaderAsync(observer, "the consumer blocks in XREADGROUP on its own connection");

        // A writer in another language: a raw XADD, no notification of any kind.
        const string Json = """{"specversion":"1.0","id":"raw-1","source":"/ts","type":"com.example.order.placed.v1","data":{"orderId":"o-raw","total":1}}""";
        await observer.GetDatabase().ExecuteAsync("XADD", "lilith:events:{orders}", "*", "v", "1", "event", Json);
        await EventsHost.WaitUntilAsync(() => recorder.Successes.ContainsKey("raw-1"), TimeSpan.FromSeconds(15), "the raw entry woke the blocked consumer");

        using IHost publisher = await StartPublisherAsync(server);
        await WaitForBlockedReaderAsync(observer, "the consumer blocks again after handling");
        CloudEvent sent = await publisher.Services.GetRequiredService<IDomainEventPublisher>().PublishAsync(new OrderPlaced("o-csharp", 2), cancellationToken: Ct);
        await EventsHost.WaitUntilAsync(() => recorder.Successes.ContainsKey(sent.Id), TimeSpan.FromSeconds(15), "the published event woke the blocked consumer");

        await WaitForBlockedReaderAsync(observer, "the consumer blocks again before it is stopped");
        using var stopBound = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await consumer.StopAsync(stopBound.Token);
        Assert.False(stopBound.IsCancellationRequested, "stopping waited for the 60 s read");
        Assert.Equal(0, await BlockedReadersAsync(observer));
    }

    [Trait("Redis", "own-servers")]
    [Fact]
    public async Task A_blocked_consumer_blocks_again_and_consumes_after_the_server_is_killed_and_restarted()
    {
        RedisServerProcess server = await redis.StartOwnedServerAsync();
        var recorder = new Recorder();
        using IHost consumer = EventsHost.Build(recorder, o => BlockingConsumer(o, server));
        await consumer.StartAsync(Ct);
        await using IConnectionMultiplexer observer = await RedisFixture.ConnectAsync(server.ConnectionString);
        await WaitForBlockedReaderAsync(observer, "the consumer blocks before the kill");

        await server.KillAsync();
        await server.RestartAsync(Ct);
        // The blocked read died with the server; the consumer's own connection reconnects and blocks again.
        await WaitForBlockedReaderAsync(observer, "the consumer blocks again after the restart");
        using IHost publisher = await StartPublisherAsync(server);
        CloudEvent sent = await publisher.Services.GetRequiredService<IDomainEventPublisher>().PublishAsync(new OrderPlaced("after-restart", 3), cancellationToken: Ct);

        await EventsHost.WaitUntilAsync(() => recorder.Successes.ContainsKey(sent.Id), TimeSpan.FromSeconds(15), "the event published after the restart woke the consumer");
        await consumer.StopAsync(Ct);
    }

    private static async Task<IHost> StartPublisherAsync(RedisServerProcess server)
    {
        IHost host = EventsHost.Build(new Recorder(), o =>
        {
            o.Transport = DomainEventTransport.Redis;
            o.ConnectionString = server.ConnectionString;
            o.ConsumeStreams = false;
        }, handler: false);
        await host.StartAsync(TestContext.Current.CancellationToken);
        return host;
    }

    [Fact]
    public async Task A_registered_multiplexer_and_no_transport_option_give_the_redis_transport()
    {
        string prefix = RedisFixture.NewPrefix();
        var recorder = new Recorder();
        IConnectionMultiplexer connection = await redis.ConnectionAsync();
        using IHost host = EventsHost.Build(recorder, o => o.KeyPrefix = prefix, s => s.AddSingleton(connection));
        await host.StartAsync(Ct);

        await host.Services.GetRequiredService<IDomainEventPublisher>().PublishAsync(new OrderPlaced("o-auto", 1m), cancellationToken: Ct);
        Assert.True(await connection.GetDatabase().StreamLengthAsync($"{prefix}:events:{{orders}}") > 0,
            "the event went to the in-memory transport although Redis was configured");
        await EventsHost.WaitUntilAsync(() => !recorder.Seen.IsEmpty, TimeSpan.FromSeconds(15), "the event reached the handler through Redis");
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task An_entry_written_with_raw_XADD_in_the_schema_format_reaches_the_CSharp_handler()
    {
        string prefix = RedisFixture.NewPrefix();
        var recorder = new Recorder();
        IConnectionMultiplexer connection = await redis.ConnectionAsync();
        using IHost host = EventsHost.Build(recorder, o =>
        {
            o.Transport = DomainEventTransport.Redis;
            o.KeyPrefix = prefix;
        }, s => s.AddSingleton(connection));
        await host.StartAsync(Ct);

        // Exactly what a TypeScript (ioredis) or Python (redis-py) publisher sends:
        // XADD <prefix>:events:{orders} MAXLEN ~ 1000000 * v 1 event <structured CloudEvent JSON>
        const string Json = """{"specversion":"1.0","id":"ts-42","source":"/gateway-ts","type":"com.example.order.placed.v1","datacontenttype":"application/json","subject":"order/o-ts","time":"2026-01-02T03:04:05.678Z","traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","tenant":"acme","data":{"orderId":"o-ts","total":12.5}}""";
        await connection.GetDatabase().ExecuteAsync("XADD", $"{prefix}:events:{{orders}}", "MAXLEN", "~", "1000000", "*", "v", "1", "event", Json);

        await EventsHost.WaitUntilAsync(() => !recorder.Seen.IsEmpty, TimeSpan.FromSeconds(15), "the raw entry reached the handler");
        (OrderPlaced e, CloudEvent envelope) = Assert.Single(recorder.Seen);
        Assert.Equal(new OrderPlaced("o-ts", 12.5m), e);
        Assert.Equal("ts-42", envelope.Id);
        Assert.Equal("/gateway-ts", envelope.Source);
        Assert.Equal("order/o-ts", envelope.Subject);
        Assert.Equal("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", envelope.TraceParent);
        Assert.Equal("acme", envelope.Extensions["tenant"].GetString());
        Assert.Equal(new DateTimeOffset(2026, 1, 2, 3, 4, 5, 678, TimeSpan.Zero), envelope.Time);
        Assert.True(await connection.GetDatabase().KeyExistsAsync($"{prefix}:events:{{orders}}:handled:7:billing:11:/gateway-ts:ts-42"),
            "the idempotency marker is written under the schema's key");
        await host.StopAsync(Ct);
    }
}
