using BenchmarkDotNet.Attributes;
using Lilith.DomainEvents;
using Microsoft.Extensions.DependencyInjection;

namespace Lilith.Benchmarks.DomainEvents;

/// <summary>
/// In-process dispatch of one event to two handlers. MediatR 12.x does not restore from the served registry
/// (its dependency MediatR.Contracts is missing), so the anchor is what MediatR's default notification publisher
/// does: resolve the handlers from a new scope and await each in turn.
/// </summary>
[MemoryDiagnoser]
public class DomainEventsDispatchBenchmarks
{
    private ServiceProvider _services = null!;
    private IDomainEventDispatcher _dispatcher = null!;
    private readonly BenchEvent _event = new("o-1", 42.5m);

    /// <summary>The benchmark's event.</summary>
    public sealed record BenchEvent(string OrderId, decimal Total);

    /// <summary>A handler that does nothing.</summary>
    public sealed class FirstHandler : IDomainEventHandler<BenchEvent>, IBenchNotificationHandler
    {
        /// <inheritdoc />
        public ValueTask HandleAsync(BenchEvent domainEvent, CloudEvent envelope, CancellationToken cancellationToken) => default;

        /// <inheritdoc />
        public Task Handle(BenchEvent notification, CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>A second handler that does nothing.</summary>
    public sealed class SecondHandler : IDomainEventHandler<BenchEvent>, IBenchNotificationHandler
    {
        /// <inheritdoc />
        public ValueTask HandleAsync(BenchEvent domainEvent, CloudEvent envelope, CancellationToken cancellationToken) => default;

        /// <inheritdoc />
        public Task Handle(BenchEvent notification, CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>The shape of MediatR's INotificationHandler.</summary>
    public interface IBenchNotificationHandler
    {
        /// <summary>Handles the notification.</summary>
        Task Handle(BenchEvent notification, CancellationToken cancellationToken);
    }

    [GlobalSetup]
    public void Setup()
    {
        var services = new ServiceCollection();
        services.AddDomainEvents().AddHandler<BenchEvent, FirstHandler>().AddHandler<BenchEvent, SecondHandler>();
        services.AddTransient<IBenchNotificationHandler, FirstHandler>();
        services.AddTransient<IBenchNotificationHandler, SecondHandler>();
        _services = services.BuildServiceProvider();
        _dispatcher = _services.GetRequiredService<IDomainEventDispatcher>();
    }

    [GlobalCleanup]
    public void Cleanup() => _services.Dispose();

    /// <summary>The anchor: MediatR-style publish (scope, resolve handlers, await each).</summary>
    [Benchmark(Baseline = true)]
    public async Task MediatRStylePublish()
    {
        await using AsyncServiceScope scope = _services.CreateAsyncScope();
        foreach (IBenchNotificationHandler handler in scope.ServiceProvider.GetServices<IBenchNotificationHandler>())
        {
            await handler.Handle(_event, CancellationToken.None);
        }
    }

    /// <summary>Lilith dispatch: scope, handlers, CloudEvent envelope (id, time, type), failure isolation.</summary>
    [Benchmark]
    public ValueTask Dispatch() => _dispatcher.DispatchAsync(_event);
}
