using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Lilith.DomainEvents.Tests;

[DomainEvent("com.example.order.placed.v1")]
public sealed record OrderPlaced(string OrderId, decimal Total);

public sealed record OrderShipped(string OrderId);

/// <summary>What the test handlers saw: attempts, successes and failures per CloudEvent id.</summary>
public sealed class Recorder
{
    public ConcurrentDictionary<string, int> Attempts { get; } = new();

    public ConcurrentDictionary<string, int> Successes { get; } = new();

    public ConcurrentDictionary<string, int> Failures { get; } = new();

    public ConcurrentQueue<(OrderPlaced Event, CloudEvent Envelope)> Seen { get; } = new();

    /// <summary>Decides whether an attempt fails (attempt number is 1-based per id in this process).</summary>
    public Func<OrderPlaced, CloudEvent, int, bool> FailWhen { get; set; } = (_, _, _) => false;

    public Func<CancellationToken, Task>? Delay { get; set; }

    public async ValueTask HandleAsync(OrderPlaced e, CloudEvent envelope, CancellationToken cancellationToken)
    {
        int attempt = Attempts.AddOrUpdate(envelope.Id, 1, (_, n) => n + 1);
        if (Delay is not null)
        {
            await Delay(cancellationToken);
        }

        if (FailWhen(e, envelope, attempt))
        {
            Failures.AddOrUpdate(envelope.Id, 1, (_, n) => n + 1);
            throw new InvalidOperationException($"handler failed on purpose for {envelope.Id}");
        }

        Successes.AddOrUpdate(envelope.Id, 1, (_, n) => n + 1);
        Seen.Enqueue((e, envelope));
    }
}

public sealed class RecordingHandler(Recorder recorder) : IDomainEventHandler<OrderPlaced>
{
    public ValueTask HandleAsync(OrderPlaced domainEvent, CloudEvent envelope, CancellationToken cancellationToken) =>
        recorder.HandleAsync(domainEvent, envelope, cancellationToken);
}

public static class EventsHost
{
    /// <summary>Builds (does not start) a host with AddDomainEvents, the recording handler and the given options.</summary>
    public static IHost Build(Recorder recorder, Action<DomainEventsOptions> configure, Action<IServiceCollection>? services = null, bool handler = true)
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton(recorder);
        services?.Invoke(builder.Services);
        DomainEventsBuilder events = builder.Services.AddDomainEvents(o =>
        {
            o.RetryDelay = TimeSpan.FromMilliseconds(1);
            o.PollInterval = TimeSpan.FromMilliseconds(2);
            o.ServiceName = "billing";
            o.Stream = "orders";
            configure(o);
        });
        if (handler)
        {
            events.AddHandler<OrderPlaced, RecordingHandler>();
        }
        else
        {
            events.AddEventType<OrderPlaced>();
        }

        return builder.Build();
    }

    public static async Task WaitUntilAsync(Func<bool> condition, TimeSpan within, string what)
    {
        using var deadline = new CancellationTokenSource(within);
        while (!condition())
        {
            if (deadline.IsCancellationRequested)
            {
                Assert.Fail($"Timed out after {within.TotalSeconds} s waiting until {what}.");
            }

            await Task.Delay(5, TestContext.Current.CancellationToken);
        }
    }

    public static async Task<IReadOnlyList<DeadLetter>> WaitForDeadLettersAsync(IHost host, int count, TimeSpan within, string stream = "orders")
    {
        IDeadLetterReader reader = host.Services.GetRequiredService<IDeadLetterReader>();
        IReadOnlyList<DeadLetter> letters = [];
        using var deadline = new CancellationTokenSource(within);
        while ((letters = await reader.ReadAsync(stream, 100_000, TestContext.Current.CancellationToken)).Count < count)
        {
            if (deadline.IsCancellationRequested)
            {
                Assert.Fail($"Timed out waiting for {count} dead letters; found {letters.Count}.");
            }

            await Task.Delay(5, TestContext.Current.CancellationToken);
        }

        return letters;
    }
}
