using System.Collections.Concurrent;
using Lilith.DomainEvents.Internal;
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
    /// <summary>
    /// Builds (does not start) a host with AddDomainEvents, the recording handler and the given options;
    /// <paramref name="services"/> runs before AddDomainEvents, <paramref name="after"/> after it.
    /// </summary>
    public static IHost Build(Recorder recorder, Action<DomainEventsOptions> configure, Action<IServiceCollection>? services = null, bool handler = true,
        Action<IServiceCollection>? after = null)
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

        after?.Invoke(builder.Services);
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

/// <summary>
/// The transport's own store (in-memory or Redis), except that each acknowledgement is held back until
/// <see cref="Release"/>: an acknowledgement whose reply has not come yet. Nothing else is changed.
/// </summary>
internal sealed class HeldAcknowledgements(IStreamStore inner) : IStreamStore, IAsyncDisposable
{
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _started;

    /// <summary>Acknowledgements asked for so far.</summary>
    public int Started => Volatile.Read(ref _started);

    /// <summary>Lets every held and later acknowledgement through.</summary>
    public void Release() => _release.TrySetResult();

    /// <summary>Wraps the store AddDomainEvents registered; the wrapper is also registered as itself.</summary>
    public static void Decorate(IServiceCollection services)
    {
        ServiceDescriptor original = services.Single(d => d.ServiceType == typeof(IStreamStore));
        services.Remove(original);
        services.AddSingleton(sp => new HeldAcknowledgements((IStreamStore)original.ImplementationFactory!(sp)));
        services.AddSingleton<IStreamStore>(sp => sp.GetRequiredService<HeldAcknowledgements>());
    }

    public async ValueTask AckAsync(string stream, string group, string entryId, (string Source, string Id, TimeSpan Window)? handled, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _started);
        await _release.Task.WaitAsync(cancellationToken);
        await inner.AckAsync(stream, group, entryId, handled, cancellationToken);
    }

    public ValueTask AddAsync(string stream, byte[] eventJson, CancellationToken cancellationToken) => inner.AddAsync(stream, eventJson, cancellationToken);

    public ValueTask<IReadOnlyList<(int Index, Exception Error)>> AddManyAsync(string stream, IReadOnlyList<byte[]> eventJson, CancellationToken cancellationToken) =>
        inner.AddManyAsync(stream, eventJson, cancellationToken);

    public ValueTask EnsureGroupAsync(string stream, string group, CancellationToken cancellationToken) => inner.EnsureGroupAsync(stream, group, cancellationToken);

    public ValueTask<IReadOnlyList<StreamEntry>> ReadNewAsync(string stream, string group, string consumer, int count, CancellationToken cancellationToken) =>
        inner.ReadNewAsync(stream, group, consumer, count, cancellationToken);

    public ValueTask<IReadOnlyList<StreamEntry>> WaitNewAsync(string stream, string group, string consumer, int count, TimeSpan wait, CancellationToken cancellationToken) =>
        inner.WaitNewAsync(stream, group, consumer, count, wait, cancellationToken);

    public ValueTask<IReadOnlyList<StreamEntry>> ReadOwnPendingAsync(string stream, string group, string consumer, string afterId, int count, CancellationToken cancellationToken) =>
        inner.ReadOwnPendingAsync(stream, group, consumer, afterId, count, cancellationToken);

    public ValueTask<IReadOnlyList<StreamEntry>> ClaimStaleAsync(string stream, string group, string consumer, TimeSpan minIdle, int count, CancellationToken cancellationToken) =>
        inner.ClaimStaleAsync(stream, group, consumer, minIdle, count, cancellationToken);

    public ValueTask KeepPendingAsync(string stream, string group, string consumer, IReadOnlyList<string> entryIds, CancellationToken cancellationToken) =>
        inner.KeepPendingAsync(stream, group, consumer, entryIds, cancellationToken);

    public ValueTask<long> DeleteIdleConsumersAsync(string stream, string group, string self, TimeSpan idle, CancellationToken cancellationToken) =>
        inner.DeleteIdleConsumersAsync(stream, group, self, idle, cancellationToken);

    public ValueTask<bool> IsHandledAsync(string stream, string group, string source, string id, CancellationToken cancellationToken) =>
        inner.IsHandledAsync(stream, group, source, id, cancellationToken);

    public ValueTask<bool> DeadLetterAsync(string stream, string group, string entryId, string? holder, string deadLetterJson, string? eventField, CancellationToken cancellationToken) =>
        inner.DeadLetterAsync(stream, group, entryId, holder, deadLetterJson, eventField, cancellationToken);

    public ValueTask<IReadOnlyList<DeadLetter>> ReadDeadLettersAsync(string stream, int count, CancellationToken cancellationToken) =>
        inner.ReadDeadLettersAsync(stream, count, cancellationToken);

    public ValueTask<StreamTrim> TrimAsync(string stream, int maxLength, int? hardMaxLength, CancellationToken cancellationToken) =>
        inner.TrimAsync(stream, maxLength, hardMaxLength, cancellationToken);

    public ValueTask DisposeAsync() => inner is IAsyncDisposable disposable ? disposable.DisposeAsync() : default;
}
