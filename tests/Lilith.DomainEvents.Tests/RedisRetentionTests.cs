using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Lilith.DomainEvents.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace Lilith.DomainEvents.Tests;

/// <summary>Retention attacked: many events published while every consumer of a group is down.</summary>
public sealed class RedisRetentionTests(RedisFixture redis)
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(30);
    private readonly string _prefix = RedisFixture.NewPrefix();

    private CancellationToken Ct => TestContext.Current.CancellationToken;

    private string StreamKey => $"{_prefix}:events:{{orders}}";

    private IHost Build(Recorder recorder, Action<DomainEventsOptions> configure, bool handler = true, Action<IServiceCollection>? after = null) =>
        EventsHost.Build(recorder, o =>
        {
            o.Transport = DomainEventTransport.Redis;
            o.KeyPrefix = _prefix;
            o.MaxStreamLength = 100;
            configure(o);
        }, s => s.AddSingleton(redis.ConnectionAsync().GetAwaiter().GetResult()), handler, after);

    private static async Task<List<string>> PublishAsync(IHost publisher, int count, CancellationToken cancellationToken)
    {
        IDomainEventPublisher events = publisher.Services.GetRequiredService<IDomainEventPublisher>();
        var ids = new List<string>(count);
        for (int i = 0; i < count; i++)
        {
            ids.Add((await events.PublishAsync(new OrderPlaced($"o-{i}", i), cancellationToken: cancellationToken)).Id);
        }

        return ids;
    }

    [Fact]
    public async Task Events_published_while_the_consumers_are_down_are_all_handled_although_the_stream_is_over_its_length()
    {
        IDatabase db = (await redis.ConnectionAsync()).GetDatabase();
        await db.StreamCreateConsumerGroupAsync(StreamKey, "billing", StreamPosition.Beginning, createStream: true);
        using IHost publisher = Build(new Recorder(), o =>
        {
            o.ConsumeStreams = false;
            o.RetentionInterval = TimeSpan.Zero;
        }, handler: false);
        await publisher.StartAsync(Ct);
        List<string> ids = await PublishAsync(publisher, 1000, Ct);

        var recorder = new Recorder();
        using IHost consumer = Build(recorder, _ => { });
        await consumer.StartAsync(Ct);
        await EventsHost.WaitUntilAsync(() => ids.All(recorder.Successes.ContainsKey), Within, "all 1000 events were handled");
        await consumer.StopAsync(Ct);

        // Once every entry is acknowledged, the next publish trims the stream back under its length.
        await PublishAsync(publisher, 1, Ct);
        await EventsHost.WaitUntilAsync(() => db.StreamLength(StreamKey) <= 100, Within, "the acknowledged entries were trimmed");
        await publisher.StopAsync(Ct);
    }

    [Fact]
    public async Task The_hard_cap_drops_unread_entries_only_when_asked_for_and_says_so_with_a_warning_and_a_metric()
    {
        IDatabase db = (await redis.ConnectionAsync()).GetDatabase();
        await db.StreamCreateConsumerGroupAsync(StreamKey, "billing", StreamPosition.Beginning, createStream: true);
        var logs = new CapturedLogs();
        long dropped = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Lilith.DomainEvents" && instrument.Name == "lilith.domain_events.dropped_unread")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref dropped, value));
        listener.Start();
        using IHost publisher = Build(new Recorder(), o =>
        {
            o.ConsumeStreams = false;
            o.HardMaxStreamLength = 150;
            o.RetentionInterval = TimeSpan.Zero;
        }, handler: false, after: s => s.AddSingleton<ILoggerProvider>(logs));
        await publisher.StartAsync(Ct);
        await PublishAsync(publisher, 1000, Ct);
        await publisher.Services.GetRequiredService<StreamRetention>().TrimAsync("orders", Ct);

        Assert.Equal(150, await db.StreamLengthAsync(StreamKey));
        // Every entry the cap removed was unread by group billing: each is counted and the range is logged.
        await EventsHost.WaitUntilAsync(() => Interlocked.Read(ref dropped) == 850, Within, "the metric counted 850 dropped entries");
        Assert.Contains(logs.Warnings, m => m.Contains("some consumer group had not acknowledged", StringComparison.Ordinal) && m.Contains("ids from", StringComparison.Ordinal));
        await publisher.StopAsync(Ct);
    }

    /// <summary>Keeps the Warning messages of every logger.</summary>
    private sealed class CapturedLogs : ILoggerProvider, ILogger
    {
        public ConcurrentQueue<string> Warnings { get; } = new();

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel == LogLevel.Warning)
            {
                Warnings.Enqueue(formatter(state, exception));
            }
        }

        public void Dispose()
        {
        }
    }
}
