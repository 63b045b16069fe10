using System.Diagnostics;
using Microsoft.Extensions.Options;

namespace Lilith.DomainEvents.Internal;

/// <summary>Publishes on the configured store, waiting for its reply and retrying per the options.</summary>
internal sealed class DomainEventPublisher(IStreamStore store, EventEnvelopes envelopes, StreamRetention retention, IOptions<DomainEventsOptions> options, TimeProvider time)
    : IDomainEventPublisher
{
    private readonly DomainEventsOptions _options = options.Value;

    public async ValueTask<CloudEvent> PublishAsync<TEvent>(TEvent domainEvent, string? subject = null, CancellationToken cancellationToken = default)
        where TEvent : notnull
    {
        ArgumentNullException.ThrowIfNull(domainEvent);
        using Activity? activity = DomainEventsTelemetry.Source.StartActivity($"send {_options.Stream}", ActivityKind.Producer);
        CloudEvent cloudEvent = envelopes.Create(domainEvent, subject);
        await PublishCoreAsync(cloudEvent, _options.Stream, activity, cancellationToken).ConfigureAwait(false);
        return cloudEvent;
    }

    public async ValueTask PublishCloudEventAsync(CloudEvent cloudEvent, string? stream = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cloudEvent);
        stream ??= _options.Stream;
        using Activity? activity = DomainEventsTelemetry.Source.StartActivity($"send {stream}", ActivityKind.Producer);
        await PublishCoreAsync(cloudEvent, stream, activity, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask PublishBatchAsync(IReadOnlyList<CloudEvent> cloudEvents, string? stream = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cloudEvents);
        stream ??= _options.Stream;
        Lilith.Common.KeySchema.ValidateName(stream, "stream", nameof(stream));
        var pending = cloudEvents.Select(e => e.ToUtf8Json()).ToList();
        Exception? last = null;
        for (int attempt = 1; attempt <= _options.PublishAttempts && pending.Count > 0; attempt++)
        {
            IReadOnlyList<(int Index, Exception Error)> failed;
            try
            {
                failed = await store.AddManyAsync(stream, pending, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                failed = pending.Select((_, i) => (i, e)).ToList();
            }

            DomainEventsTelemetry.Published.Add(pending.Count - failed.Count);
            if (failed.Count < pending.Count)
            {
                retention.Published(stream);
            }

            if (failed.Count == 0)
            {
                return;
            }

            last = failed[^1].Error;
            pending = failed.Select(f => pending[f.Index]).ToList();
            if (attempt < _options.PublishAttempts)
            {
                await Task.Delay(RetryDelay(attempt), time, cancellationToken).ConfigureAwait(false);
            }
        }

        // Retrying a failed XADD may duplicate an entry whose reply was lost; consumers skip it by source + id.
        throw new DomainEventPublishException(
            $"{pending.Count} of {cloudEvents.Count} events were not accepted on stream '{stream}' after {_options.PublishAttempts} attempts: {last?.Message}", last);
    }

    private async ValueTask PublishCoreAsync(CloudEvent cloudEvent, string stream, Activity? activity, CancellationToken cancellationToken)
    {
        Lilith.Common.KeySchema.ValidateName(stream, "stream", nameof(stream));
        activity?.SetTag("messaging.system", "redis");
        activity?.SetTag("messaging.destination.name", stream);
        activity?.SetTag("messaging.message.id", cloudEvent.Id);
        byte[] json = cloudEvent.ToUtf8Json();
        Exception? last = null;
        for (int attempt = 1; attempt <= _options.PublishAttempts; attempt++)
        {
            try
            {
                await store.AddAsync(stream, json, cancellationToken).ConfigureAwait(false);
                DomainEventsTelemetry.Published.Add(1, new KeyValuePair<string, object?>("messaging.destination.name", stream));
                retention.Published(stream);
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                last = e;
                if (attempt < _options.PublishAttempts)
                {
                    await Task.Delay(RetryDelay(attempt), time, cancellationToken).ConfigureAwait(false);
                }
            }
        }

        activity?.SetStatus(ActivityStatusCode.Error, last?.Message);
        throw new DomainEventPublishException(
            $"Event '{cloudEvent.Id}' of type '{cloudEvent.Type}' was not accepted on stream '{stream}' after {_options.PublishAttempts} attempts: {last?.Message}", last);
    }

    private TimeSpan RetryDelay(int attempt) => TimeSpan.FromMilliseconds(_options.PublishRetryDelay.TotalMilliseconds * Math.Pow(2, attempt - 1));
}
