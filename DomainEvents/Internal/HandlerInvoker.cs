using Microsoft.Extensions.DependencyInjection;

namespace Lilith.DomainEvents.Internal;

/// <summary>Runs the handlers of one event type in a new DI scope, isolating their failures.</summary>
internal abstract class HandlerInvoker
{
    /// <summary>The handlers resolved once from the root provider, when every handler of the type is a singleton (no scope needed).</summary>
    public abstract object? ResolveSingletons(IServiceProvider root);

    public abstract ValueTask InvokeAsync(IServiceScopeFactory scopes, object? singletons, object domainEvent, CloudEvent envelope, DispatchStrategy strategy, CancellationToken cancellationToken);
}

/// <summary>
/// The invoker of <typeparamref name="TEvent"/>. The common case (handlers that complete synchronously) runs
/// without an async state machine, a closure or a copy of the handler array: the only allocations are the
/// scope and what the container creates (the handler array and the handlers).
/// </summary>
internal sealed class HandlerInvoker<TEvent> : HandlerInvoker
    where TEvent : notnull
{
    public static readonly HandlerInvoker<TEvent> Instance = new();

    private static readonly Type HandlersType = typeof(IEnumerable<IDomainEventHandler<TEvent>>);

    public override object? ResolveSingletons(IServiceProvider root) => Resolve(root);

    public override ValueTask InvokeAsync(IServiceScopeFactory scopes, object? singletons, object domainEvent, CloudEvent envelope, DispatchStrategy strategy, CancellationToken cancellationToken) =>
        InvokeAsync(scopes, singletons, (TEvent)domainEvent, envelope, strategy, cancellationToken);

    public ValueTask InvokeAsync(IServiceScopeFactory scopes, object? singletons, TEvent domainEvent, CloudEvent envelope, DispatchStrategy strategy, CancellationToken cancellationToken)
    {
        if (singletons is IDomainEventHandler<TEvent>[] shared)
        {
            return Run(shared, domainEvent, envelope, strategy, cancellationToken);
        }

        AsyncServiceScope scope = scopes.CreateAsyncScope();
        ValueTask run;
        try
        {
            run = Run(Resolve(scope.ServiceProvider), domainEvent, envelope, strategy, cancellationToken);
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

    private static IDomainEventHandler<TEvent>[] Resolve(IServiceProvider provider) =>
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
