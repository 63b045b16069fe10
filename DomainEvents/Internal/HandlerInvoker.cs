using Microsoft.Extensions.DependencyInjection;

namespace Lilith.DomainEvents.Internal;

/// <summary>What a dispatcher keeps per event type: its invoker, its CloudEvents type name and how its handlers are resolved.</summary>
/// <param name="Invoker">The typed invoker.</param>
/// <param name="TypeName">The registered CloudEvents type of the event type.</param>
/// <param name="Resolution">Scope, root or cached.</param>
/// <param name="Cached">The handler array when <paramref name="Resolution"/> is <see cref="HandlerResolution.Cached"/>.</param>
internal sealed record HandlerSet(HandlerInvoker Invoker, string TypeName, HandlerResolution Resolution, object? Cached);

/// <summary>Runs the handlers of one event type, isolating their failures.</summary>
internal abstract class HandlerInvoker
{
    /// <summary>The handlers resolved from <paramref name="provider"/>, as an array.</summary>
    public abstract object Resolve(IServiceProvider provider);

    public abstract ValueTask InvokeAsync(HandlerSet set, IServiceProvider root, IServiceScopeFactory scopes, object domainEvent, CloudEvent envelope, DispatchStrategy strategy, CancellationToken cancellationToken);
}

/// <summary>
/// The invoker of <typeparamref name="TEvent"/>. The common case (handlers that complete synchronously) runs
/// without an async state machine, a closure or a copy of the handler array: the only allocations are the
/// scope, when one is needed, and what the container creates (the handler array and the handlers).
/// </summary>
internal sealed class HandlerInvoker<TEvent> : HandlerInvoker
    where TEvent : notnull
{
    public static readonly HandlerInvoker<TEvent> Instance = new();

    private static readonly Type HandlersType = typeof(IEnumerable<IDomainEventHandler<TEvent>>);

    public override object Resolve(IServiceProvider provider) => ResolveTyped(provider);

    public override ValueTask InvokeAsync(HandlerSet set, IServiceProvider root, IServiceScopeFactory scopes, object domainEvent, CloudEvent envelope, DispatchStrategy strategy, CancellationToken cancellationToken) =>
        InvokeAsync(set, root, scopes, (TEvent)domainEvent, envelope, strategy, cancellationToken);

    public ValueTask InvokeAsync(HandlerSet set, IServiceProvider root, IServiceScopeFactory scopes, TEvent domainEvent, CloudEvent envelope, DispatchStrategy strategy, CancellationToken cancellationToken)
    {
        switch (set.Resolution)
        {
            case HandlerResolution.Cached:
                return Run((IDomainEventHandler<TEvent>[])set.Cached!, domainEvent, envelope, strategy, cancellationToken);
            case HandlerResolution.Root:
                IDomainEventHandler<TEvent>[] handlers;
                try
                {
                    handlers = ResolveTyped(root);
                }
                catch (Exception e)
                {
                    return ValueTask.FromException(e);
                }

                return Run(handlers, domainEvent, envelope, strategy, cancellationToken);
        }

        AsyncServiceScope scope = scopes.CreateAsyncScope();
        ValueTask run;
        try
        {
            run = Run(ResolveTyped(scope.ServiceProvider), domainEvent, envelope, strategy, cancellationToken);
        }
        catch (Exception e)
        {
            run = ValueTask.FromException(e);
        }

        if (run.IsCompletedSuccessfully)
        {
            run.GetAwaiter().GetResult();
            return scope.DisposeAsync();
        }

        return AwaitThenDisposeAsync(run, scope);
    }

    private static async ValueTask AwaitThenDisposeAsync(ValueTask run, AsyncServiceScope scope)
    {
        await using (scope.ConfigureAwait(false))
        {
            await run.ConfigureAwait(false);
        }
    }

    private static ValueTask Run(IDomainEventHandler<TEvent>[] handlers, TEvent domainEvent, CloudEvent envelope, DispatchStrategy strategy, CancellationToken cancellationToken) =>
        strategy == DispatchStrategy.Parallel && handlers.Length > 1
            ? RunParallelAsync(handlers, domainEvent, envelope, cancellationToken)
            : RunSequential(handlers, domainEvent, envelope, cancellationToken);

    private static IDomainEventHandler<TEvent>[] ResolveTyped(IServiceProvider provider) =>
        provider.GetService(HandlersType) switch
        {
            IDomainEventHandler<TEvent>[] array => array,
            IEnumerable<IDomainEventHandler<TEvent>> other => [.. other],
            _ => [],
        };

    /// <summary>Runs the handlers one after the other; goes async only at the first handler that does not complete at once.</summary>
    private static ValueTask RunSequential(IDomainEventHandler<TEvent>[] handlers, TEvent domainEvent, CloudEvent envelope, CancellationToken cancellationToken)
    {
        List<Exception>? failures = null;
        for (int i = 0; i < handlers.Length; i++)
        {
            ValueTask handling;
            try
            {
                handling = handlers[i].HandleAsync(domainEvent, envelope, cancellationToken);
                if (!handling.IsCompleted)
                {
                    return RunSequentialAsync(handlers, i, handling, failures, domainEvent, envelope, cancellationToken);
                }

                handling.GetAwaiter().GetResult();
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                (failures ??= []).Add(e);
            }
            catch (Exception e)
            {
                return ValueTask.FromException(e);
            }
        }

        return failures is null ? default : ValueTask.FromException(new DomainEventDispatchException(envelope.Type, handlers.Length, failures));
    }

    private static async ValueTask RunSequentialAsync(
        IDomainEventHandler<TEvent>[] handlers, int index, ValueTask pending, List<Exception>? failures, TEvent domainEvent, CloudEvent envelope, CancellationToken cancellationToken)
    {
        for (int i = index; i < handlers.Length; i++)
        {
            try
            {
                await (i == index ? pending : handlers[i].HandleAsync(domainEvent, envelope, cancellationToken)).ConfigureAwait(false);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                (failures ??= []).Add(e);
            }
        }

        if (failures is not null)
        {
            throw new DomainEventDispatchException(envelope.Type, handlers.Length, failures);
        }
    }

    private static async ValueTask RunParallelAsync(IDomainEventHandler<TEvent>[] handlers, TEvent domainEvent, CloudEvent envelope, CancellationToken cancellationToken)
    {
        var tasks = new Task[handlers.Length];
        for (int i = 0; i < handlers.Length; i++)
        {
            tasks[i] = RunOneAsync(handlers[i], domainEvent, envelope, cancellationToken);
        }

        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            var failures = new List<Exception>();
            foreach (Task task in tasks)
            {
                if (task.Exception is { } e)
                {
                    failures.AddRange(e.InnerExceptions);
                }
            }

            throw new DomainEventDispatchException(envelope.Type, handlers.Length, failures);
        }
    }

    // A handler that throws before its first await still becomes a faulted task, so every handler starts.
    private static async Task RunOneAsync(IDomainEventHandler<TEvent> handler, TEvent domainEvent, CloudEvent envelope, CancellationToken cancellationToken) =>
        await handler.HandleAsync(domainEvent, envelope, cancellationToken).ConfigureAwait(false);
}
