using System.Collections.Concurrent;
using BenchmarkDotNet.Attributes;
using Lilith.DomainEvents;
using Microsoft.Extensions.DependencyInjection;

namespace Lilith.Benchmarks.DomainEvents;

/// <summary>
/// In-process dispatch of one event to two handlers that complete at once.
/// MediatR 12.x does not restore from the served registry (12.4.1, 12.5.0 and 13.1.0 are served, but their dependency
/// MediatR.Contracts is not), so the anchor re-creates what MediatR 12's <c>Mediator.Publish</c> does with its default
/// <c>ForeachAwaitPublisher</c>: a mediator resolved from the caller's scope (so no scope per publish), a wrapper per
/// notification type from a concurrent dictionary, the handlers resolved from that scope, each projected with
/// <c>Select</c> into an executor holding a closure, and a publisher that awaits each executor in a foreach.
/// Lilith's dispatch does more per call: it creates a CloudEvent envelope (id, type, time, trace parent), isolates and
/// collects handler failures, and gives the handlers a new DI scope when they need one. The benchmark's handlers, like
/// the anchor's, depend on nothing, so the <c>Dispatch</c> row needs no scope; <c>DispatchToScopedHandlers</c> shows the
/// cost when each handler depends on a scoped service, and a reference row shows the minimal loop "new scope, resolve,
/// await each" with nothing else. The singleton row registers both handlers as singletons (resolved once).
/// A second anchor is a real package: MediatR 5.1.0, the newest version the registry restores, its <c>IMediator.Publish</c>
/// on a mediator from the caller's scope with the same two transient handlers (as its DI extension registers it).
/// </summary>
[MemoryDiagnoser]
public class DomainEventsDispatchBenchmarks
{
    private ServiceProvider _services = null!;
    private AsyncServiceScope _callerScope;
    private MediatRStyleMediator _mediator = null!;
    private MediatR.IMediator _mediatR5 = null!;
    private IDomainEventDispatcher _dispatcher = null!;
    private readonly BenchEvent _event = new("o-1", 42.5m);
    private readonly SingletonBenchEvent _singletonEvent = new("o-1", 42.5m);
    private readonly ScopedBenchEvent _scopedEvent = new("o-1", 42.5m);

    /// <summary>The benchmark's event.</summary>
    public sealed record BenchEvent(string OrderId, decimal Total) : MediatR.INotification;

    /// <summary>The same event, handled by singleton handlers.</summary>
    public sealed record SingletonBenchEvent(string OrderId, decimal Total);

    /// <summary>The same event, handled by handlers that depend on a scoped service.</summary>
    public sealed record ScopedBenchEvent(string OrderId, decimal Total);

    /// <summary>A scoped service (a unit of work, say).</summary>
    public sealed class ScopedService;

    /// <summary>A handler that depends on a scoped service and does nothing.</summary>
    public sealed class FirstScopedHandler(ScopedService unitOfWork) : IDomainEventHandler<ScopedBenchEvent>
    {
        /// <summary>The scoped dependency.</summary>
        public ScopedService UnitOfWork { get; } = unitOfWork;

        /// <inheritdoc />
        public ValueTask HandleAsync(ScopedBenchEvent domainEvent, CloudEvent envelope, CancellationToken cancellationToken) => default;
    }

    /// <summary>A second handler that depends on a scoped service and does nothing.</summary>
    public sealed class SecondScopedHandler(ScopedService unitOfWork) : IDomainEventHandler<ScopedBenchEvent>
    {
        /// <summary>The scoped dependency.</summary>
        public ScopedService UnitOfWork { get; } = unitOfWork;

        /// <inheritdoc />
        public ValueTask HandleAsync(ScopedBenchEvent domainEvent, CloudEvent envelope, CancellationToken cancellationToken) => default;
    }

    /// <summary>A singleton handler that does nothing.</summary>
    public sealed class FirstSingletonHandler : IDomainEventHandler<SingletonBenchEvent>
    {
        /// <inheritdoc />
        public ValueTask HandleAsync(SingletonBenchEvent domainEvent, CloudEvent envelope, CancellationToken cancellationToken) => default;
    }

    /// <summary>A second singleton handler that does nothing.</summary>
    public sealed class SecondSingletonHandler : IDomainEventHandler<SingletonBenchEvent>
    {
        /// <inheritdoc />
        public ValueTask HandleAsync(SingletonBenchEvent domainEvent, CloudEvent envelope, CancellationToken cancellationToken) => default;
    }

    /// <summary>A handler that does nothing.</summary>
    public sealed class FirstHandler : IDomainEventHandler<BenchEvent>, IBenchNotificationHandler<BenchEvent>, MediatR.INotificationHandler<BenchEvent>
    {
        /// <inheritdoc />
        public ValueTask HandleAsync(BenchEvent domainEvent, CloudEvent envelope, CancellationToken cancellationToken) => default;

        /// <inheritdoc />
        public Task Handle(BenchEvent notification, CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>A second handler that does nothing.</summary>
    public sealed class SecondHandler : IDomainEventHandler<BenchEvent>, IBenchNotificationHandler<BenchEvent>, MediatR.INotificationHandler<BenchEvent>
    {
        /// <inheritdoc />
        public ValueTask HandleAsync(BenchEvent domainEvent, CloudEvent envelope, CancellationToken cancellationToken) => default;

        /// <inheritdoc />
        public Task Handle(BenchEvent notification, CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>The shape of MediatR's <c>INotificationHandler&lt;T&gt;</c>.</summary>
    /// <typeparam name="T">The notification type.</typeparam>
    public interface IBenchNotificationHandler<in T>
    {
        /// <summary>Handles the notification.</summary>
        Task Handle(T notification, CancellationToken cancellationToken);
    }

    /// <summary>The shape of MediatR's <c>NotificationHandlerExecutor</c>.</summary>
    /// <param name="HandlerInstance">The handler.</param>
    /// <param name="HandlerCallback">Calls it.</param>
    public sealed record Executor(object HandlerInstance, Func<object, CancellationToken, Task> HandlerCallback);

    /// <summary>MediatR 12's publish path, written out (see the class summary).</summary>
    /// <param name="services">The caller's scope, as MediatR's transient <c>Mediator</c> gets it.</param>
    public sealed class MediatRStyleMediator(IServiceProvider services)
    {
        private static readonly ConcurrentDictionary<Type, Wrapper> Wrappers = new();

        /// <summary>As <c>IPublisher.Publish&lt;TNotification&gt;</c>.</summary>
        public Task Publish<T>(T notification, CancellationToken cancellationToken)
            where T : notnull
        {
            Wrapper wrapper = Wrappers.GetOrAdd(notification.GetType(), static t => (Wrapper)Activator.CreateInstance(typeof(Wrapper<>).MakeGenericType(t))!);
            return wrapper.Handle(notification, services, PublishCore, cancellationToken);
        }

        // An instance method, as MediatR's overridable PublishCore: the delegate is created per publish.
        private Task PublishCore(IEnumerable<Executor> executors, object notification, CancellationToken cancellationToken) =>
            ForeachAwaitPublisher.Publish(executors, notification, cancellationToken);
    }

    /// <summary>As MediatR's default <c>ForeachAwaitPublisher</c>.</summary>
    public static class ForeachAwaitPublisher
    {
        /// <summary>Awaits each executor in turn.</summary>
        public static async Task Publish(IEnumerable<Executor> executors, object notification, CancellationToken cancellationToken)
        {
            foreach (Executor executor in executors)
            {
                await executor.HandlerCallback(notification, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>As MediatR's <c>NotificationHandlerWrapper</c>.</summary>
    public abstract class Wrapper
    {
        /// <summary>Resolves the handlers and publishes.</summary>
        public abstract Task Handle(object notification, IServiceProvider services, Func<IEnumerable<Executor>, object, CancellationToken, Task> publish, CancellationToken cancellationToken);
    }

    /// <summary>As MediatR's <c>NotificationHandlerWrapperImpl&lt;T&gt;</c>.</summary>
    /// <typeparam name="T">The notification type.</typeparam>
    public sealed class Wrapper<T> : Wrapper
    {
        /// <inheritdoc />
        public override Task Handle(object notification, IServiceProvider services, Func<IEnumerable<Executor>, object, CancellationToken, Task> publish, CancellationToken cancellationToken)
        {
            IEnumerable<Executor> executors = services.GetServices<IBenchNotificationHandler<T>>()
                .Select(static h => new Executor(h, (n, ct) => h.Handle((T)n, ct)));
            return publish(executors, notification, cancellationToken);
        }
    }

    [GlobalSetup]
    public void Setup()
    {
        var services = new ServiceCollection();
        services.AddDomainEvents().AddHandler<BenchEvent, FirstHandler>().AddHandler<BenchEvent, SecondHandler>()
            .AddHandler<SingletonBenchEvent, FirstSingletonHandler>(ServiceLifetime.Singleton)
            .AddHandler<SingletonBenchEvent, SecondSingletonHandler>(ServiceLifetime.Singleton)
            .AddHandler<ScopedBenchEvent, FirstScopedHandler>().AddHandler<ScopedBenchEvent, SecondScopedHandler>();
        services.AddScoped<ScopedService>();
        services.AddTransient<IBenchNotificationHandler<BenchEvent>, FirstHandler>();
        services.AddTransient<IBenchNotificationHandler<BenchEvent>, SecondHandler>();
        services.AddTransient<MediatR.INotificationHandler<BenchEvent>, FirstHandler>();
        services.AddTransient<MediatR.INotificationHandler<BenchEvent>, SecondHandler>();
        services.AddScoped<MediatR.ServiceFactory>(p => p.GetService!);
        services.AddScoped<MediatR.IMediator, MediatR.Mediator>();
        _services = services.BuildServiceProvider();
        _callerScope = _services.CreateAsyncScope();
        _mediator = new MediatRStyleMediator(_callerScope.ServiceProvider);
        _mediatR5 = _callerScope.ServiceProvider.GetRequiredService<MediatR.IMediator>();
        _dispatcher = _services.GetRequiredService<IDomainEventDispatcher>();
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _callerScope.DisposeAsync();
        await _services.DisposeAsync();
    }

    /// <summary>The anchor: MediatR 12-style <c>Publish</c> with the default foreach-await publisher.</summary>
    [Benchmark(Baseline = true)]
    public Task MediatR12StylePublish() => _mediator.Publish(_event, CancellationToken.None);

    /// <summary>The real-package anchor: MediatR 5.1.0 <c>IMediator.Publish</c>.</summary>
    [Benchmark]
    public Task MediatR5Publish() => _mediatR5.Publish(_event, CancellationToken.None);

    /// <summary>Reference: new scope, resolve the handlers, await each (no envelope, no failure isolation).</summary>
    [Benchmark]
    public async Task ScopeResolveAwaitEach()
    {
        await using AsyncServiceScope scope = _services.CreateAsyncScope();
        foreach (IBenchNotificationHandler<BenchEvent> handler in scope.ServiceProvider.GetServices<IBenchNotificationHandler<BenchEvent>>())
        {
            await handler.Handle(_event, CancellationToken.None);
        }
    }

    /// <summary>Lilith dispatch to transient handlers (as MediatR registers them) that need no scope: handlers, CloudEvent envelope, failure isolation.</summary>
    [Benchmark]
    public ValueTask Dispatch() => _dispatcher.DispatchAsync(_event);

    /// <summary>Lilith dispatch to transient handlers that depend on a scoped service: as above plus a new scope per dispatch.</summary>
    [Benchmark]
    public ValueTask DispatchToScopedHandlers() => _dispatcher.DispatchAsync(_scopedEvent);

    /// <summary>Lilith dispatch to singleton handlers: no scope, handlers resolved once; envelope and failure isolation as above.</summary>
    [Benchmark]
    public ValueTask DispatchToSingletonHandlers() => _dispatcher.DispatchAsync(_singletonEvent);
}
