using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Lilith.ServiceDiscovery.Tests;

/// <summary>Waits on conditions with a deadline instead of sleeping.</summary>
internal static class Eventually
{
    public static async Task TrueAsync(Func<Task<bool>> condition, TimeSpan within, string what)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            if (await condition())
            {
                return;
            }

            if (clock.Elapsed > within)
            {
                Assert.Fail($"Not true within {within.TotalSeconds:0.#} s: {what}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), TestContext.Current.CancellationToken);
        }
    }

    public static Task TrueAsync(Func<bool> condition, TimeSpan within, string what) =>
        TrueAsync(() => Task.FromResult(condition()), within, what);
}

/// <summary>Collects what a watcher yields, in the background.</summary>
internal sealed class EventLog : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _pump;

    /// <summary>Starts watching at once (WatchAsync subscribes when called); the events are read in the background.</summary>
    public EventLog(IServiceResolver resolver, string? service)
    {
        IAsyncEnumerable<DiscoveryEvent> watch = resolver.WatchAsync(service, _stop.Token);
        _pump = Task.Run(async () =>
        {
            try
            {
                await foreach (DiscoveryEvent e in watch)
                {
                    Events.Enqueue(e);
                }
            }
            catch (OperationCanceledException)
            {
            }
        });
    }

    public ConcurrentQueue<DiscoveryEvent> Events { get; } = new();

    public bool Has(DiscoveryEventKind kind, string id) => Events.Any(e => e.Kind == kind && e.InstanceId == id);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _pump;
        _stop.Dispose();
    }
}

/// <summary>Counts the package's malformed-entry metric for one service name (tests use names of their own).</summary>
internal sealed class MalformedCount : IDisposable
{
    private readonly System.Diagnostics.Metrics.MeterListener _listener = new();
    private long _count;

    public MalformedCount(string service)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Lilith.ServiceDiscovery" && instrument.Name == "lilith.discovery.malformed_entries")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                if (tag.Key == "lilith.discovery.service" && Equals(tag.Value, service))
                {
                    Interlocked.Add(ref _count, value);
                }
            }
        });
        _listener.Start();
    }

    public long Value => Interlocked.Read(ref _count);

    public void Dispose() => _listener.Dispose();
}

/// <summary>Captures log lines so tests can check what was reported.</summary>
public sealed class CapturingLoggerProvider : ILoggerProvider
{
    public ConcurrentQueue<string> Lines { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerProvider owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Lines.Enqueue($"{logLevel}: {formatter(state, exception)}");
    }
}
