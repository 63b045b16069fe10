using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Lilith.DomainEvents.Tests;

public sealed class DispatchTests
{
    private CancellationToken Ct => TestContext.Current.CancellationToken;

    public sealed class Log
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public TaskCompletionSource FirstStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource SecondStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public sealed class ScopedThing
    {
        public Guid Id { get; } = Guid.NewGuid();
    }

    public sealed class FailingHandler(Log log, ScopedThing scoped) : IDomainEventHandler<OrderShipped>
    {
        public ValueTask HandleAsync(OrderShipped domainEvent, CloudEvent envelope, CancellationToken cancellationToken)
        {
            log.Lines.Enqueue($"failing {scoped.Id}");
            throw new InvalidOperationException("first handler broke");
        }
    }

    public sealed class WorkingHandler(Log log, ScopedThing scoped) : IDomainEventHandler<OrderShipped>
    {
        public ValueTask HandleAsync(OrderShipped domainEvent, CloudEvent envelope, CancellationToken cancellationToken)
        {
            log.Lines.Enqueue($"working {scoped.Id} {domainEvent.OrderId} {envelope.Type}");
            return default;
        }
    }

    public sealed class WaitsForSecond(Log log) : IDomainEventHandler<OrderPlaced>
    {
        public async ValueTask HandleAsync(OrderPlaced domainEvent, CloudEvent envelope, CancellationToken cancellationToken)
        {
            log.FirstStarted.SetResult();
            await log.SecondStarted.Task.WaitAsync(TimeSpan.FromSeconds(5), cancellationToken);
        }
    }

    public sealed class WaitsForFirst(Log log) : IDomainEventHandler<OrderPlaced>
    {
        public async ValueTask HandleAsync(OrderPlaced domainEvent, CloudEvent envelope, CancellationToken cancellationToken)
        {
            log.SecondStarted.SetResult();
            await log.FirstStarted.Task.WaitAsync(TimeSpan.FromSeconds(5), cancellationToken);
            throw new InvalidOperationException("second handler broke after the first started");
        }
    }

    private static ServiceProvider Provider(DispatchStrategy strategy, Log log, Action<DomainEventsBuilder> handlers)
    {
        var services = new ServiceCollection();
        services.AddSingleton(log);
        services.AddScoped<ScopedThing>();
        handlers(services.AddDomainEvents(o => o.DispatchStrategy = strategy));
        return services.BuildServiceProvider();
    }

    [Theory]
    [InlineData(DispatchStrategy.Sequential)]
    [InlineData(DispatchStrategy.Parallel)]
    public async Task A_failing_handler_does_not_stop_the_others_and_the_failure_is_reported(DispatchStrategy strategy)
    {
        var log = new Log();
        await using ServiceProvider provider = Provider(strategy, log, b => b.AddHandler<OrderShipped, FailingHandler>().AddHandler<OrderShipped, WorkingHandler>());
        IDomainEventDispatcher dispatcher = provider.GetRequiredService<IDomainEventDispatcher>();

        DomainEventDispatchException e = await Assert.ThrowsAsync<DomainEventDispatchException>(() => dispatcher.DispatchAsync(new OrderShipped("o-7"), Ct).AsTask());

        Assert.Equal("1 of 2 handlers of event type 'lilith.domainevents.tests.ordershipped' failed: InvalidOperationException: first handler broke", e.Message);
        Assert.IsType<InvalidOperationException>(Assert.Single(e.InnerExceptions));
        Assert.Contains(log.Lines, l => l.StartsWith("working ", StringComparison.Ordinal) && l.EndsWith(" o-7 lilith.domainevents.tests.ordershipped", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Handlers_share_one_scope_per_dispatch_and_get_a_new_one_next_time()
    {
        var log = new Log();
        await using ServiceProvider provider = Provider(DispatchStrategy.Sequential, log, b => b.AddHandler<OrderShipped, FailingHandler>().AddHandler<OrderShipped, WorkingHandler>());
        IDomainEventDispatcher dispatcher = provider.GetRequiredService<IDomainEventDispatcher>();

        await Assert.ThrowsAsync<DomainEventDispatchException>(() => dispatcher.DispatchAsync(new OrderShipped("a"), Ct).AsTask());
        await Assert.ThrowsAsync<DomainEventDispatchException>(() => dispatcher.DispatchAsync(new OrderShipped("b"), Ct).AsTask());

        string[] scopes = log.Lines.Select(l => l.Split(' ')[1]).ToArray();
        Assert.Equal(4, scopes.Length);
        Assert.Equal(scopes[0], scopes[1]);
        Assert.Equal(scopes[2], scopes[3]);
        Assert.NotEqual(scopes[0], scopes[2]);
    }

    public sealed class SingletonFailing(Log log) : IDomainEventHandler<OrderShipped>
    {
        public ValueTask HandleAsync(OrderShipped domainEvent, CloudEvent envelope, CancellationToken cancellationToken)
        {
            log.Lines.Enqueue($"singleton-failing {RuntimeHelpers.GetHashCode(this)} {envelope.Id}");
            throw new InvalidOperationException("singleton handler broke");
        }
    }

    public sealed class SingletonWorking(Log log) : IDomainEventHandler<OrderShipped>
    {
        public async ValueTask HandleAsync(OrderShipped domainEvent, CloudEvent envelope, CancellationToken cancellationToken)
        {
            await Task.Yield();
            log.Lines.Enqueue($"singleton-working {RuntimeHelpers.GetHashCode(this)} {domainEvent.OrderId}");
        }
    }

    [Theory]
    [InlineData(DispatchStrategy.Sequential)]
    [InlineData(DispatchStrategy.Parallel)]
    public async Task Singleton_handlers_are_resolved_once_and_still_isolate_failures(DispatchStrategy strategy)
    {
        var log = new Log();
        await using ServiceProvider provider = Provider(strategy, log, b => b
            .AddHandler<OrderShipped, SingletonFailing>(ServiceLifetime.Singleton)
            .AddHandler<OrderShipped, SingletonWorking>(ServiceLifetime.Singleton));
        IDomainEventDispatcher dispatcher = provider.GetRequiredService<IDomainEventDispatcher>();

        DomainEventDispatchException first = await Assert.ThrowsAsync<DomainEventDispatchException>(() => dispatcher.DispatchAsync(new OrderShipped("a"), Ct).AsTask());
        await Assert.ThrowsAsync<DomainEventDispatchException>(() => dispatcher.DispatchAsync(new OrderShipped("b"), Ct).AsTask());

        Assert.Equal("1 of 2 handlers of event type 'lilith.domainevents.tests.ordershipped' failed: InvalidOperationException: singleton handler broke", first.Message);
        string[] failing = log.Lines.Where(l => l.StartsWith("singleton-failing ", StringComparison.Ordinal)).ToArray();
        string[] working = log.Lines.Where(l => l.StartsWith("singleton-working ", StringComparison.Ordinal)).ToArray();
        Assert.Equal(2, failing.Length);
        Assert.Equal(2, working.Length);
        Assert.Equal(failing[0].Split(' ')[1], failing[1].Split(' ')[1]);
        Assert.Equal(working[0].Split(' ')[1], working[1].Split(' ')[1]);
        Assert.NotEqual(failing[0].Split(' ')[2], failing[1].Split(' ')[2]);
    }

    [Fact]
    public async Task A_transient_handler_next_to_a_singleton_one_still_gets_a_scope_per_dispatch()
    {
        var log = new Log();
        await using ServiceProvider provider = Provider(DispatchStrategy.Sequential, log, b => b
            .AddHandler<OrderShipped, SingletonWorking>(ServiceLifetime.Singleton)
            .AddHandler<OrderShipped, WorkingHandler>());
        IDomainEventDispatcher dispatcher = provider.GetRequiredService<IDomainEventDispatcher>();

        await dispatcher.DispatchAsync(new OrderShipped("a"), Ct);
        await dispatcher.DispatchAsync(new OrderShipped("b"), Ct);

        string[] scopes = log.Lines.Where(l => l.StartsWith("working ", StringComparison.Ordinal)).Select(l => l.Split(' ')[1]).ToArray();
        Assert.Equal(2, scopes.Length);
        Assert.NotEqual(scopes[0], scopes[1]);
        Assert.Equal(2, log.Lines.Count(l => l.StartsWith("singleton-working ", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task The_parallel_strategy_runs_handlers_at_the_same_time_and_reports_every_failure()
    {
        var log = new Log();
        await using ServiceProvider provider = Provider(DispatchStrategy.Parallel, log, b => b.AddHandler<OrderPlaced, WaitsForSecond>().AddHandler<OrderPlaced, WaitsForFirst>());

        // Each handler waits for the other to start: only a parallel dispatch completes.
        DomainEventDispatchException e = await Assert.ThrowsAsync<DomainEventDispatchException>(
            () => provider.GetRequiredService<IDomainEventDispatcher>().DispatchAsync(new OrderPlaced("p", 1), Ct).AsTask());
        Assert.Equal("second handler broke after the first started", Assert.Single(e.InnerExceptions).Message);
    }

    [Fact]
    public async Task Handlers_found_by_assembly_scanning_receive_a_CloudEvent_read_into_the_registered_type()
    {
        var log = new Log();
        await using ServiceProvider provider = Provider(DispatchStrategy.Sequential, log, b => b.AddHandlersFromAssembly(typeof(DispatchTests).Assembly));
        var e = CloudEvent.Parse("""{"specversion":"1.0","id":"1","source":"/py","type":"lilith.domainevents.tests.ordershipped","data":{"orderId":"o-py"}}""");

        await Assert.ThrowsAsync<DomainEventDispatchException>(() => provider.GetRequiredService<IDomainEventDispatcher>().DispatchCloudEventAsync(e, Ct).AsTask());
        bool known = await provider.GetRequiredService<IDomainEventDispatcher>().DispatchCloudEventAsync(
            new CloudEvent { Id = "2", Source = "/py", Type = "com.example.unknown.v1" }, Ct);

        Assert.Contains(log.Lines, l => l.EndsWith(" o-py lilith.domainevents.tests.ordershipped", StringComparison.Ordinal));
        Assert.False(known);
    }

    public sealed class Order(string id) : AggregateRoot
    {
        protected override string? EventSubject => $"order/{id}";

        public void Place(decimal total) => Raise(new OrderPlaced(id, total));

        public void Ship() => Raise(new OrderShipped(id));
    }

    [Fact]
    public async Task An_aggregate_publishes_its_raised_events_after_the_unit_of_work_and_clears_them()
    {
        var recorder = new Recorder();
        using IHost host = EventsHost.Build(recorder, o => o.Transport = DomainEventTransport.InMemory);
        await host.StartAsync(Ct);
        var order = new Order("o-9");
        order.Place(10);
        order.Ship();
        Assert.Equal(2, order.DomainEvents.Count);

        await host.Services.GetRequiredService<IDomainEventPublisher>().PublishRaisedEventsAsync(order, Ct);

        Assert.Empty(order.DomainEvents);
        await EventsHost.WaitUntilAsync(() => !recorder.Seen.IsEmpty, TimeSpan.FromSeconds(10), "the placed event was handled");
        Assert.Equal("order/o-9", Assert.Single(recorder.Seen).Envelope.Subject);
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task Bad_options_fail_the_host_start_with_messages_naming_option_and_value()
    {
        using IHost host = EventsHost.Build(new Recorder(), o =>
        {
            o.BatchSize = 0;
            o.KeyPrefix = "bad prefix";
            o.Stream = "a{b}";
            o.ReplicaAcknowledgements = -1;
            o.ClaimIdleTime = TimeSpan.FromMilliseconds(30);
            o.MaxStreamLength = 500;
            o.HardMaxStreamLength = 100;
            o.ConsumerIdleTimeout = TimeSpan.FromSeconds(1);
        });

        OptionsValidationException e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(Ct));

        Assert.Contains("DomainEventsOptions.BatchSize: 0 must be at least 1.", e.Message, StringComparison.Ordinal);
        Assert.Contains("DomainEventsOptions.KeyPrefix: 'bad prefix' is not a valid key prefix", e.Message, StringComparison.Ordinal);
        Assert.Contains("DomainEventsOptions.Stream", e.Message, StringComparison.Ordinal);
        Assert.Contains("'a{b}'", e.Message, StringComparison.Ordinal);
        Assert.Contains("DomainEventsOptions.ReplicaAcknowledgements: -1 must not be negative.", e.Message, StringComparison.Ordinal);
        Assert.Contains("DomainEventsOptions.ClaimIdleTime: 00:00:00.0300000 must be at least 100 ms", e.Message, StringComparison.Ordinal);
        Assert.Contains("DomainEventsOptions.HardMaxStreamLength: 100 must be at least DomainEventsOptions.MaxStreamLength (500)", e.Message, StringComparison.Ordinal);
        Assert.Contains("DomainEventsOptions.ConsumerIdleTimeout: 00:00:01 must be more than twice DomainEventsOptions.ReadBlockTime", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Calling_AddDomainEvents_twice_registers_each_service_once()
    {
        var services = new ServiceCollection();
        services.AddDomainEvents().AddHandler<OrderShipped, WorkingHandler>();
        services.AddDomainEvents().AddHandler<OrderShipped, WorkingHandler>();

        Assert.Single(services, d => d.ServiceType == typeof(IDomainEventPublisher));
        Assert.Single(services, d => d.ServiceType == typeof(IDomainEventHandler<OrderShipped>));
    }
}
