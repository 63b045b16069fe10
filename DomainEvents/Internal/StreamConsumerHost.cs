using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Lilith.DomainEvents.Internal;

/// <summary>Starts the stream consumer when this service has handlers and consuming is on.</summary>
internal sealed class StreamConsumerHost(IServiceProvider services, EventTypeRegistry registry, IOptions<DomainEventsOptions> options) : IHostedService
{
    private StreamConsumer? _consumer;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!Consumes(options.Value, registry))
        {
            return Task.CompletedTask;
        }

        _consumer = (StreamConsumer)services.GetService(typeof(StreamConsumer))!;
        return _consumer.StartAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => _consumer?.StopAsync(cancellationToken) ?? Task.CompletedTask;

    /// <summary>Whether the hosted consumer runs: consuming is on and handlers, event types or subscriptions are registered.</summary>
    public static bool Consumes(DomainEventsOptions options, EventTypeRegistry registry) =>
        options.ConsumeStreams && (registry.HasTypes || options.Subscriptions.Count > 0);
}

/// <summary>Reads dead letters from the configured store.</summary>
internal sealed class DeadLetterReader(IStreamStore store) : IDeadLetterReader
{
    public ValueTask<IReadOnlyList<DeadLetter>> ReadAsync(string stream, int count, CancellationToken cancellationToken = default)
    {
        Lilith.Common.KeySchema.ValidateName(stream, "stream", nameof(stream));
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        return store.ReadDeadLettersAsync(stream, count, cancellationToken);
    }
}
