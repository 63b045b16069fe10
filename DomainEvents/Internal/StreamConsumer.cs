using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Lilith.DomainEvents.Internal;

/// <summary>
/// The hosted consumer: one loop per subscribed stream, in the service's consumer group. Drains its own pending
/// entries first, then reads new ones, claims stale entries of dead consumers, acknowledges after the handlers
/// succeeded, retries with backoff and moves entries that cannot be handled to the dead-letter stream.
/// </summary>
/// <remarks>
/// An acknowledgement is sent as soon as the handlers succeeded, and the loop goes on to the next entry or read without
/// waiting for its reply: the replies are awaited before the loop handles its next batch (so at most one batch's
/// acknowledgements are outstanding) and before the loop ends. Until its reply, the event's source + id stays in
/// flight, so a second delivery of the event waits for it and then sees the handled marker the acknowledgement set.
/// </remarks>
internal sealed partial class StreamConsumer(
    IStreamStore store,
    IDomainEventDispatcher dispatcher,
    IOptions<DomainEventsOptions> options,
    TimeProvider time,
    ILogger<StreamConsumer> logger) : BackgroundService
{
    private static readonly TimeSpan MinimumWait = TimeSpan.FromMilliseconds(1);
    private readonly DomainEventsOptions _options = options.Value;

    /// <summary>Entries acknowledged so far (tests and the demo wait on it).</summary>
    public long HandledCount => Interlocked.Read(ref _handled);

    private readonly ConcurrentDictionary<string, TaskCompletionSource> _inFlight = new(StringComparer.Ordinal);

    // Entries this consumer handles now (handlers running or waiting to retry), kept from being claimed.
    private readonly ConcurrentDictionary<(string Stream, string EntryId), byte> _held = new();
    private long _handled;

    /// <summary>The consumer group: the service name (required on Redis; in memory, one process, a default serves).</summary>
    private string Group => _options.ServiceName ?? DomainEventsDefaults.UnnamedService;

    // Set once at start: the configured consumer name, or the default one with this host's lowest free ordinal.
    private string _consumer = string.Empty;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using ConsumerIdentity identity = ConsumerIdentity.Acquire(_options.ConsumerName, Group);
        _consumer = identity.Name;
        IList<string> streams = _options.Subscriptions.Count > 0 ? _options.Subscriptions : [_options.Stream];
        Task keeping = Task.Run(() => KeepHeldEntriesAsync(stoppingToken), CancellationToken.None);
        await Task.WhenAll(streams.Distinct(StringComparer.Ordinal).Select(s => Task.Run(() => RunAsync(s, stoppingToken), CancellationToken.None))).ConfigureAwait(false);
        await keeping.ConfigureAwait(false);
    }

    /// <summary>
    /// Every third of the claim idle time, starts the idle time of the entries whose handlers run (or wait to retry) in
    /// this consumer again, so another consumer does not claim and run them at the same time.
    /// </summary>
    private async Task KeepHeldEntriesAsync(CancellationToken cancellationToken)
    {
        TimeSpan period = _options.ClaimIdleTime / 3;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(period, time, cancellationToken).ConfigureAwait(false);
                foreach (IGrouping<string, string> stream in _held.Keys.GroupBy(k => k.Stream, k => k.EntryId))
                {
                    await store.KeepPendingAsync(stream.Key, Group, _consumer, [.. stream], cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                LogKeepFailed(logger, e, Group);
            }
        }
    }

    private async Task RunAsync(string stream, CancellationToken cancellationToken)
    {
        // Acknowledgements of this loop sent and not yet answered.
        var settling = new ConcurrentQueue<Task>();
        try
        {
            await ConsumeAsync(stream, settling, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await SettledAsync(settling).ConfigureAwait(false);
        }
    }

    /// <summary>Waits for the acknowledgements sent so far (they never throw: each logs its own failure).</summary>
    private static async ValueTask SettledAsync(ConcurrentQueue<Task> settling)
    {
        while (settling.TryDequeue(out Task? task))
        {
            await task.ConfigureAwait(false);
        }
    }

    private async Task ConsumeAsync(string stream, ConcurrentQueue<Task> settling, CancellationToken cancellationToken)
    {
        string group = Group;
        string consumer = _consumer;
        int failures = 0;
        bool drained = false;
        long nextClaim = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (!drained)
                {
                    await store.EnsureGroupAsync(stream, group, cancellationToken).ConfigureAwait(false);
                    await DrainOwnPendingAsync(stream, group, consumer, settling, cancellationToken).ConfigureAwait(false);
                    drained = true;
                }

                if (time.GetTimestamp() >= nextClaim)
                {
                    IReadOnlyList<StreamEntry> claimed = await store.ClaimStaleAsync(stream, group, consumer, _options.ClaimIdleTime, _options.BatchSize, cancellationToken).ConfigureAwait(false);
                    if (claimed.Count > 0)
                    {
                        LogClaimed(logger, claimed.Count, stream, group);
                        await ProcessAsync(stream, group, claimed, settling, cancellationToken).ConfigureAwait(false);
                    }

                    long deleted = await store.DeleteIdleConsumersAsync(stream, group, consumer, _options.ConsumerIdleTimeout, cancellationToken).ConfigureAwait(false);
                    if (deleted > 0)
                    {
                        LogDeletedConsumers(logger, deleted, stream, group, _options.ConsumerIdleTimeout);
                    }

                    nextClaim = time.GetTimestamp() + (long)(_options.ClaimInterval.TotalSeconds * time.TimestampFrequency);
                }

                // Waits on the server until an entry arrives, but no longer than the next claim is due.
                TimeSpan untilClaim = TimeSpan.FromSeconds((double)(nextClaim - time.GetTimestamp()) / time.TimestampFrequency);
                TimeSpan wait = untilClaim < _options.ReadBlockTime ? untilClaim : _options.ReadBlockTime;
                IReadOnlyList<StreamEntry> entries = await store.WaitNewAsync(stream, group, consumer, _options.BatchSize,
                    wait > MinimumWait ? wait : MinimumWait, cancellationToken).ConfigureAwait(false);
                failures = 0;
                if (entries.Count == 0)
                {
                    continue;
                }

                await ProcessAsync(stream, group, entries, settling, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // Redis down, group gone after a restart without persistence, ...: back off and start over
                // (re-create the group, drain own pending again); the loop never dies.
                failures++;
                drained = false;
                LogLoopFailed(logger, e, stream, group, failures);
                TimeSpan delay = TimeSpan.FromMilliseconds(Math.Min(2000, 50 * Math.Pow(2, Math.Min(failures, 6))));
                try
                {
                    await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task DrainOwnPendingAsync(string stream, string group, string consumer, ConcurrentQueue<Task> settling, CancellationToken cancellationToken)
    {
        string after = "0";
        while (true)
        {
            IReadOnlyList<StreamEntry> pending = await store.ReadOwnPendingAsync(stream, group, consumer, after, _options.BatchSize, cancellationToken).ConfigureAwait(false);
            if (pending.Count == 0)
            {
                return;
            }

            LogDraining(logger, pending.Count, stream, group);
            await ProcessAsync(stream, group, pending, settling, cancellationToken).ConfigureAwait(false);
            after = pending[^1].Id;
        }
    }

    private async Task ProcessAsync(string stream, string group, IReadOnlyList<StreamEntry> entries, ConcurrentQueue<Task> settling, CancellationToken cancellationToken)
    {
        // The previous batch's acknowledgements were sent before this batch was read; their replies have usually arrived.
        await SettledAsync(settling).ConfigureAwait(false);
        if (entries.Count == 1 || _options.Concurrency == 1)
        {
            // Nothing to run side by side: handle in this flow, without handing each entry to a thread-pool worker.
            foreach (StreamEntry entry in entries)
            {
                cancellationToken.ThrowIfCancellationRequested();
                await ProcessEntryAsync(stream, group, entry, settling, cancellationToken).ConfigureAwait(false);
            }

            return;
        }

        await Parallel.ForEachAsync(entries, new ParallelOptions { MaxDegreeOfParallelism = _options.Concurrency, CancellationToken = cancellationToken },
            async (entry, token) => await ProcessEntryAsync(stream, group, entry, settling, token).ConfigureAwait(false)).ConfigureAwait(false);
    }

    private async Task ProcessEntryAsync(string stream, string group, StreamEntry entry, ConcurrentQueue<Task> settling, CancellationToken cancellationToken)
    {
        _held[(stream, entry.Id)] = 0;
        try
        {
            await HandleEntryAsync(stream, group, entry, settling, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Left pending: this consumer drains it on restart, or another claims it.
        }
        catch (Exception e)
        {
            // Acknowledge or dead-letter failed (Redis unreachable): the entry stays pending and is claimed later.
            LogSettleFailed(logger, e, entry.Id, stream, group);
        }
        finally
        {
            _held.TryRemove((stream, entry.Id), out _);
        }
    }

    private async Task HandleEntryAsync(string stream, string group, StreamEntry entry, ConcurrentQueue<Task> settling, CancellationToken cancellationToken)
    {
        if (entry.Trimmed != TrimmedEntry.No)
        {
            LogTrimmed(logger, entry.Id, stream, group);
            await DeadLetterAsync(stream, group, entry, (int)entry.Deliveries, DeadLetterReasons.Trimmed,
                "the stream's trim removed the entry while it was pending, before this group acknowledged it", cancellationToken).ConfigureAwait(false);
            return;
        }

        if (entry.Version != "1" || entry.Event is null)
        {
            bool unknownVersion = entry.Version is not null && entry.Event is not null && int.TryParse(entry.Version, out int v) && v > 1;
            string error = unknownVersion
                ? $"schema version {entry.Version} is not known to this reader, which knows 1"
                : $"the entry lacks the '{(entry.Version is null ? "v" : "event")}' field or has v '{entry.Version}'";
            await DeadLetterAsync(stream, group, entry, (int)entry.Deliveries, unknownVersion ? DeadLetterReasons.UnknownVersion : DeadLetterReasons.Malformed, error, cancellationToken).ConfigureAwait(false);
            return;
        }

        CloudEvent cloudEvent;
        try
        {
            cloudEvent = CloudEvent.Parse(entry.Event);
        }
        catch (CloudEventFormatException e)
        {
            await DeadLetterAsync(stream, group, entry, (int)entry.Deliveries, DeadLetterReasons.Malformed, e.Message, cancellationToken).ConfigureAwait(false);
            return;
        }

        int used = (int)Math.Max(0, entry.Deliveries - 1);
        if (used >= _options.MaxAttempts)
        {
            await DeadLetterAsync(stream, group, entry, (int)entry.Deliveries, DeadLetterReasons.TooManyDeliveries,
                $"delivered {entry.Deliveries} times without being acknowledged (MaxAttempts {_options.MaxAttempts})", cancellationToken).ConfigureAwait(false);
            return;
        }

        // Two deliveries of one event (same source and id) in this consumer run one after the other, so the
        // second sees the first's handled marker; across consumers the check is best-effort.
        string gateKey = cloudEvent.Source + "\n" + cloudEvent.Id;
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        while (!_inFlight.TryAdd(gateKey, gate))
        {
            if (_inFlight.TryGetValue(gateKey, out TaskCompletionSource? other))
            {
                await other.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        Task? acknowledging = null;
        bool deferred = false;
        try
        {
            acknowledging = await HandleParsedAsync(stream, group, entry, cloudEvent, used, cancellationToken).ConfigureAwait(false);
            if (acknowledging is { IsCompleted: false })
            {
                // Decided once: the task that waits for the reply is now the one that lets the next delivery in.
                settling.Enqueue(ReleaseWhenAcknowledgedAsync(acknowledging, gateKey, gate, stream, group, entry.Id, cancellationToken));
                deferred = true;
            }
        }
        finally
        {
            if (!deferred)
            {
                LetNextDeliveryIn(gateKey, gate);
            }
        }

        if (acknowledging is not null && !deferred)
        {
            await acknowledging.ConfigureAwait(false); // completed already: a failure surfaces here
        }
    }

    /// <summary>Waits for an acknowledgement's reply, then lets the next delivery of the same event in.</summary>
    private async Task ReleaseWhenAcknowledgedAsync(Task acknowledging, string gateKey, TaskCompletionSource gate, string stream, string group, string entryId, CancellationToken cancellationToken)
    {
        try
        {
            await acknowledging.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping while the reply was awaited: the entry was acknowledged or stays pending (drained or claimed later).
        }
        catch (Exception e)
        {
            LogSettleFailed(logger, e, entryId, stream, group);
        }
        finally
        {
            LetNextDeliveryIn(gateKey, gate);
        }
    }

    /// <summary>Ends this delivery's hold on its source + id; a delivery of the same event waiting for it goes on.</summary>
    private void LetNextDeliveryIn(string gateKey, TaskCompletionSource gate)
    {
        _inFlight.TryRemove(gateKey, out _);
        gate.TrySetResult();
    }

    /// <summary>Handles a parsed entry; returns the acknowledgement after the handlers succeeded (sent, reply pending), else null.</summary>
    private async ValueTask<Task?> HandleParsedAsync(string stream, string group, StreamEntry entry, CloudEvent cloudEvent, int used, CancellationToken cancellationToken)
    {
        (string, string, TimeSpan)? handled = _options.IdempotencyWindow is { } window ? (cloudEvent.Source, cloudEvent.Id, window) : null;
        if (handled is not null && await store.IsHandledAsync(stream, group, cloudEvent.Source, cloudEvent.Id, cancellationToken).ConfigureAwait(false))
        {
            LogDuplicate(logger, cloudEvent.Id, cloudEvent.Source, stream, group);
            await store.AckAsync(stream, group, entry.Id, null, cancellationToken).ConfigureAwait(false);
            return null;
        }

        Exception? last = null;
        int attempt = used;
        while (attempt < _options.MaxAttempts)
        {
            attempt++;
            using Activity? activity = StartHandleActivity(cloudEvent, stream, group);
            try
            {
                bool known = await dispatcher.DispatchCloudEventAsync(cloudEvent, cancellationToken).ConfigureAwait(false);
                if (cloudEvent.Time is { } t)
                {
                    DomainEventsTelemetry.Lag.Record((time.GetUtcNow() - t).TotalMilliseconds, new KeyValuePair<string, object?>("messaging.destination.name", stream));
                }

                return AcknowledgeAsync(stream, group, entry.Id, known ? handled : null, cancellationToken);
            }
            catch (Exception e) when (e is DomainEventDispatchException or CloudEventFormatException && !cancellationToken.IsCancellationRequested)
            {
                activity?.SetStatus(ActivityStatusCode.Error, e.Message);
                last = e;
                if (e is CloudEventFormatException)
                {
                    await DeadLetterAsync(stream, group, entry, attempt, DeadLetterReasons.Malformed, e.Message, cancellationToken).ConfigureAwait(false);
                    return null;
                }

                if (attempt < _options.MaxAttempts)
                {
                    DomainEventsTelemetry.Retried.Add(1);
                    LogRetrying(logger, cloudEvent.Id, stream, group, attempt, e.Message);
                    TimeSpan delay = TimeSpan.FromMilliseconds(Math.Min(30_000, _options.RetryDelay.TotalMilliseconds * Math.Pow(2, attempt - 1)));
                    await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
                }
            }
        }

        await DeadLetterAsync(stream, group, entry, attempt, DeadLetterReasons.HandlerFailed, last?.Message, cancellationToken).ConfigureAwait(false);
        return null;
    }

    /// <summary>Sends the acknowledgement (and handled marker) at once; the returned task completes with its reply.</summary>
    private async Task AcknowledgeAsync(string stream, string group, string entryId, (string, string, TimeSpan)? handled, CancellationToken cancellationToken)
    {
        await store.AckAsync(stream, group, entryId, handled, cancellationToken).ConfigureAwait(false);
        Interlocked.Increment(ref _handled);
        DomainEventsTelemetry.Handled.Add(1, new KeyValuePair<string, object?>("messaging.destination.name", stream));
    }

    private async Task DeadLetterAsync(string stream, string group, StreamEntry entry, int attempts, string reason, string? error, CancellationToken cancellationToken)
    {
        string payload = new DeadLetterPayload(1, stream, group, _consumer, entry.Id, attempts, reason, error).ToJson();
        string? holder = entry.Trimmed == TrimmedEntry.Dropped ? null : _consumer;
        if (!await store.DeadLetterAsync(stream, group, entry.Id, holder, payload, entry.Event, cancellationToken).ConfigureAwait(false))
        {
            LogNoLongerOurs(logger, entry.Id, stream, group);
            return;
        }

        DomainEventsTelemetry.DeadLettered.Add(1, new KeyValuePair<string, object?>("error.type", reason));
        LogDeadLettered(logger, entry.Id, stream, group, reason, error);
    }

    private static Activity? StartHandleActivity(CloudEvent cloudEvent, string stream, string group)
    {
        ActivityContext.TryParse(cloudEvent.TraceParent, null, out ActivityContext parent);
        Activity? activity = DomainEventsTelemetry.Source.StartActivity($"process {stream}", ActivityKind.Consumer, parent);
        activity?.SetTag("messaging.system", "redis");
        activity?.SetTag("messaging.consumer.group.name", group);
        activity?.SetTag("messaging.message.id", cloudEvent.Id);
        activity?.SetTag("cloudevents.event_type", cloudEvent.Type);
        return activity;
    }
}
