using Microsoft.Extensions.DependencyInjection;

namespace Lilith.DomainEvents.Internal;

/// <summary>Runs the handlers of one event type, isolating their failures.</summary>
internal abstract class HandlerInvoker
{
    public abstract ValueTask InvokeAsync(IServiceProvider scope, object domainEvent, CloudEvent envelope, DispatchStrategy strategy, CancellationToken cancellationToken);
}

internal sealed class HandlerInvoker<TEvent> : HandlerInvoker
    where TEvent : notnull
{
    public override async ValueTask InvokeAsync(IServiceProvider scope, object domainEvent, CloudEvent envelope, DispatchStrategy strategy, CancellationToken cancellationToken)
    {
        var typed = (TEvent)domainEvent;
        IDomainEventHandler<TEvent>[] handlers = scope.GetServices<IDomainEventHandler<TEvent>>().ToArray();
        List<Exception>? failures = null;
        if (strategy == DispatchStrategy.Sequential || handlers.Length == 1)
        {
            foreach (IDomainEventHandler<TEvent> handler in handlers)
            {
                try
                {
                    await handler.HandleAsync(typed, envelope, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (!cancellationToken.IsCancellationRequested)
                {
                    (failures ??= []).Add(e);
                }
            }
        }
        else
        {
            Task[] tasks = new Task[handlers.Length];
            for (int i = 0; i < handlers.Length; i++)
            {
                tasks[i] = RunAsync(handlers[i], typed, envelope, cancellationToken);
            }

            try
            {
                await Task.WhenAll(tasks).ConfigureAwait(false);
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                failures = tasks.Where(t => t.IsFaulted).SelectMany(t => t.Exception!.InnerExceptions).ToList();
            }
        }

        if (failures is not null)
        {
            throw new DomainEventDispatchException(envelope.Type, handlers.Length, failures);
        }
    }

    private static async Task RunAsync(IDomainEventHandler<TEvent> handler, TEvent domainEvent, CloudEvent envelope, CancellationToken cancellationToken) =>
        await handler.HandleAsync(domainEvent, envelope, cancellationToken).ConfigureAwait(false);
}
