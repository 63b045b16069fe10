using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Lilith.DomainEvents.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Lilith.DomainEvents.Tests;

/// <summary>
/// When a dispatch needs a DI scope: only where resolving from the root would give other objects or leave something
/// undisposed. The behaviour tests fail if a scope is skipped where it matters or kept where the analysis says no.
/// </summary>
public sealed class HandlerResolutionTests
{
    private CancellationToken Ct => TestContext.Current.CancellationToken;

    public sealed record Probe(string Id);

    public sealed class Seen
    {
        public ConcurrentQueue<string> Lines { get; } = new();
    }

    public sealed class ScopedDependency;

    public sealed class SingletonDependency;

    public sealed class TransientOnScoped(ScopedDependency scoped)
    {
        public ScopedDependency Scoped { get; } = scoped;
    }

    public sealed class TransientOnSingleton(SingletonDependency singleton)
    {
        public SingletonDependency Singleton { get; } = singleton;
    }

    public sealed class DisposableDependency : IDisposable
    {
        public void Dispose()
        {
        }
    }

    public sealed class NoDependencies(Seen seen) : IDomainEventHandler<Probe>
    {
        public ValueTask HandleAsync(Probe domainEvent, CloudEvent envelope, CancellationToken cancellationToken)
        {
            seen.Lines.Enqueue($"plain {RuntimeHelpers.GetHashCode(this)}");
            return default;
        }
    }

    public sealed class OnLoggerAndTransient(Seen seen, ILogger<OnLoggerAndTransient> logger, TransientOnSingleton transient) : IDomainEventHandler<Probe>
    {
        public ValueTask HandleAsync(Probe domainEvent, CloudEvent envelope, CancellationToken cancellationToken)
        {
            logger.LogDebug("{Id}", domainEvent.Id);
            seen.Lines.Enqueue($"logger {RuntimeHelpers.GetHashCode(transient)}");
            return default;
        }
    }

    public sealed class OnScopedTwoLevelsDown(TransientOnScoped transient) : IDomainEventHandler<Probe>
    {
        public TransientOnScoped Dependency { get; } = transient;

        public ValueTask HandleAsync(Probe domainEvent, CloudEvent envelope, CancellationToken cancellationToken) => default;
    }

    public sealed class OnScopedList(IEnumerable<ScopedDependency> all) : IDomainEventHandler<Probe>
    {
        public IEnumerable<ScopedDependency> Dependency { get; } = all;

        public ValueTask HandleAsync(Probe domainEvent, CloudEvent envelope, CancellationToken cancellationToken) => default;
    }

    public sealed class OnProvider(IServiceProvider services) : IDomainEventHandler<Probe>
    {
        public IServiceProvider Dependency { get; } = services;

        public ValueTask HandleAsync(Probe domainEvent, CloudEvent envelope, CancellationToken cancellationToken) => default;
    }

    public sealed class OnDisposable(DisposableDependency dependency) : IDomainEventHandler<Probe>
    {
        public DisposableDependency Dependency { get; } = dependency;

        public ValueTask HandleAsync(Probe domainEvent, CloudEvent envelope, CancellationToken cancellationToken) => default;
    }

    public sealed class OnUnregistered(Uri unknown) : IDomainEventHandler<Probe>
    {
        public Uri Dependency { get; } = unknown;

        public ValueTask HandleAsync(Probe domainEvent, CloudEvent envelope, CancellationToken cancellationToken) => default;
    }

    public sealed class DisposableHandler(Seen seen) : IDomainEventHandler<Probe>, IAsyncDisposable
    {
        public ValueTask HandleAsync(Probe domainEvent, CloudEvent envelope, CancellationToken cancellationToken)
        {
            seen.Lines.Enqueue($"handled {RuntimeHelpers.GetHashCode(this)}");
            return default;
        }

        public ValueTask DisposeAsync()
        {
            seen.Lines.Enqueue($"disposed {RuntimeHelpers.GetHashCode(this)}");
            return default;
        }
    }

    public sealed class OpenGenericHandler<T>(ScopedDependency scoped) : IDomainEventHandler<T>
        where T : notnull
    {
        public ScopedDependency Dependency { get; } = scoped;

        public ValueTask HandleAsync(T domainEvent, CloudEvent envelope, CancellationToken cancellationToken) => default;
    }

    private static IServiceCollection Services(Action<DomainEventsBuilder> handlers)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton(new Seen());
        services.AddScoped<ScopedDependency>();
        services.AddSingleton<SingletonDependency>();
        services.AddTransient<TransientOnScoped>();
        services.AddTransient<TransientOnSingleton>();
        services.AddTransient<DisposableDependency>();
        handlers(services.AddDomainEvents());
        return services;
    }

    private static HandlerResolution ResolutionOf(Action<DomainEventsBuilder> handlers) =>
        new HandlerRegistrations(Services(handlers)).ResolutionOf(typeof(IDomainEventHandler<Probe>));

    [Fact]
    public void Transient_handlers_that_depend_only_on_singletons_and_such_transients_need_no_scope()
    {
        Assert.Equal(HandlerResolution.Root, ResolutionOf(b => b.AddHandler<Probe, NoDependencies>()));
        Assert.Equal(HandlerResolution.Root, ResolutionOf(b => b.AddHandler<Probe, NoDependencies>().AddHandler<Probe, OnLoggerAndTransient>()));
        Assert.Equal(HandlerResolution.Cached, ResolutionOf(b => b.AddHandler<Probe, NoDependencies>(ServiceLifetime.Singleton)));
    }

    [Fact]
    public void Anything_scoped_disposable_or_opaque_below_any_handler_keeps_the_scope()
    {
        Assert.Equal(HandlerResolution.Scope, ResolutionOf(b => b.AddHandler<Probe, NoDependencies>(ServiceLifetime.Scoped)));
        Assert.Equal(HandlerResolution.Scope, ResolutionOf(b => b.AddHandler<Probe, NoDependencies>().AddHandler<Probe, OnScopedTwoLevelsDown>()));
        Assert.Equal(HandlerResolution.Scope, ResolutionOf(b => b.AddHandler<Probe, OnScopedList>()));
        Assert.Equal(HandlerResolution.Scope, ResolutionOf(b => b.AddHandler<Probe, OnProvider>()));
        Assert.Equal(HandlerResolution.Scope, ResolutionOf(b => b.AddHandler<Probe, OnDisposable>()));
        Assert.Equal(HandlerResolution.Scope, ResolutionOf(b => b.AddHandler<Probe, OnUnregistered>()));
        Assert.Equal(HandlerResolution.Scope, ResolutionOf(b => b.AddHandler<Probe, DisposableHandler>()));
        Assert.Equal(HandlerResolution.Scope, ResolutionOf(b => b.AddHandler<Probe, NoDependencies>(ServiceLifetime.Singleton).AddHandler<Probe, OnScopedTwoLevelsDown>()));
    }

    [Fact]
    public void Factory_registrations_and_open_generic_handlers_are_seen()
    {
        Assert.Equal(HandlerResolution.Scope, ResolutionOf(b => b.Services.AddTransient<IDomainEventHandler<Probe>>(s => new NoDependencies(s.GetRequiredService<Seen>()))));

        // An open generic handler joins every event type's handlers: a scoped dependency of it keeps the scope even
        // when the closed handlers are singletons.
        Assert.Equal(HandlerResolution.Scope, ResolutionOf(b => b.AddHandler<Probe, NoDependencies>(ServiceLifetime.Singleton).Services
            .AddTransient(typeof(IDomainEventHandler<>), typeof(OpenGenericHandler<>))));
    }

    [Fact]
    public async Task A_handler_resolved_without_a_scope_is_still_a_new_instance_per_dispatch()
    {
        await using ServiceProvider provider = Services(b => b.AddHandler<Probe, NoDependencies>().AddHandler<Probe, OnLoggerAndTransient>())
            .BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
        IDomainEventDispatcher dispatcher = provider.GetRequiredService<IDomainEventDispatcher>();

        await dispatcher.DispatchAsync(new Probe("a"), Ct);
        await dispatcher.DispatchAsync(new Probe("b"), Ct);

        string[] lines = [.. provider.GetRequiredService<Seen>().Lines];
        Assert.Equal(4, lines.Length);
        Assert.Equal(2, lines.Where(l => l.StartsWith("plain ", StringComparison.Ordinal)).Distinct().Count());
        Assert.Equal(2, lines.Where(l => l.StartsWith("logger ", StringComparison.Ordinal)).Distinct().Count());
    }

    [Fact]
    public async Task A_disposable_transient_handler_is_disposed_after_each_dispatch()
    {
        await using ServiceProvider provider = Services(b => b.AddHandler<Probe, DisposableHandler>()).BuildServiceProvider();
        IDomainEventDispatcher dispatcher = provider.GetRequiredService<IDomainEventDispatcher>();

        await dispatcher.DispatchAsync(new Probe("a"), Ct);
        await dispatcher.DispatchAsync(new Probe("b"), Ct);

        string[] lines = [.. provider.GetRequiredService<Seen>().Lines];
        Assert.Equal(4, lines.Length);
        Assert.Equal(lines[0].Replace("handled", "disposed", StringComparison.Ordinal), lines[1]);
        Assert.Equal(lines[2].Replace("handled", "disposed", StringComparison.Ordinal), lines[3]);
        Assert.NotEqual(lines[0], lines[2]);
    }

    /// <summary>Dispatched only by the next test, so no other test's dispatcher has looked up its handlers first.</summary>
    public sealed record OnlyInTwoProviders(string Id);

    public sealed class CountsPerProvider(Seen seen) : IDomainEventHandler<OnlyInTwoProviders>
    {
        public ValueTask HandleAsync(OnlyInTwoProviders domainEvent, CloudEvent envelope, CancellationToken cancellationToken)
        {
            seen.Lines.Enqueue($"{domainEvent.Id} {RuntimeHelpers.GetHashCode(this)}");
            return default;
        }
    }

    [Fact]
    public async Task Two_providers_dispatching_the_same_event_type_use_their_own_handlers()
    {
        await using ServiceProvider first = Services(b => b.AddHandler<OnlyInTwoProviders, CountsPerProvider>(ServiceLifetime.Singleton)).BuildServiceProvider();
        await using ServiceProvider second = Services(b => b.AddHandler<OnlyInTwoProviders, CountsPerProvider>(ServiceLifetime.Singleton)).BuildServiceProvider();

        for (int i = 0; i < 2; i++)
        {
            await first.GetRequiredService<IDomainEventDispatcher>().DispatchAsync(new OnlyInTwoProviders("first"), Ct);
            await second.GetRequiredService<IDomainEventDispatcher>().DispatchAsync(new OnlyInTwoProviders("second"), Ct);
        }

        // Each provider's events reached its own singleton handler, once per dispatch.
        string[] firstSeen = [.. first.GetRequiredService<Seen>().Lines];
        string[] secondSeen = [.. second.GetRequiredService<Seen>().Lines];
        Assert.Equal(2, firstSeen.Length);
        Assert.Equal(2, secondSeen.Length);
        Assert.Single(firstSeen.Distinct());
        Assert.Single(secondSeen.Distinct());
        Assert.StartsWith("first ", firstSeen[0], StringComparison.Ordinal);
        Assert.StartsWith("second ", secondSeen[0], StringComparison.Ordinal);
    }
}
