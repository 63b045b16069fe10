using Lilith.Common;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Polly;

namespace Lilith.CircuitBreaker.Internal;

/// <summary>One <c>AddCircuitBreaker(name)</c> call.</summary>
internal sealed record AdapterRegistration(string Name);

/// <summary>Builds each adapter's pipeline on first use and owns the breakers and the state store.</summary>
internal sealed class CircuitBreakerRegistry(IServiceProvider services) : ICircuitBreakerRegistry, IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly Dictionary<string, (ResiliencePipeline Pipeline, BreakerController Breaker)> _built = new(StringComparer.Ordinal);
    private readonly string[] _names = [.. services.GetServices<AdapterRegistration>().Select(r => r.Name).Distinct(StringComparer.Ordinal)];
    private IBreakerStateStore? _store;
    private RedisConnectionSource? _connection;
    private int _disposed;

    public IReadOnlyList<ICircuitBreaker> Breakers => [.. _names.Select(GetBreaker)];

    public ICircuitBreaker GetBreaker(string name) => Build(name).Breaker;

    public ResiliencePipeline GetPipeline(string name) => Build(name).Pipeline;

    private (ResiliencePipeline Pipeline, BreakerController Breaker) Build(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        lock (_gate)
        {
            if (_built.TryGetValue(name, out var built))
            {
                return built;
            }

            if (!_names.Contains(name, StringComparer.Ordinal))
            {
                throw new KeyNotFoundException($"No circuit breaker is registered under '{name}'; register it with services.AddCircuitBreaker(\"{name}\", ...). Registered: {string.Join(", ", _names)}.");
            }

            CircuitBreakerAdapterOptions adapter = services.GetRequiredService<IOptionsMonitor<CircuitBreakerAdapterOptions>>().Get(name);
            TimeProvider time = services.GetService<TimeProvider>() ?? TimeProvider.System;
            ILoggerFactory loggers = services.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance;
            LilithCircuitBreakerOptions breaker = adapter.Breaker;
            breaker.Name = name;
            if (adapter.SharedState)
            {
                breaker.StateStore ??= Store(time, loggers);
            }

            var builder = new ResiliencePipelineBuilder { Name = name, TimeProvider = time };
            if (adapter.Retry is not null)
            {
                builder.AddRetry(adapter.Retry);
            }

            LilithCircuitBreakerStrategy strategy = LilithCircuitBreakerBuilderExtensions.Create(breaker, time, loggers);
            builder.AddStrategy(_ => strategy);
            if (adapter.Timeout is { } timeout)
            {
                builder.AddTimeout(timeout);
            }

            BreakerController controller = breaker.Control?.Controller ?? ((ICircuitBreakerSource)strategy).Controller;
            TrackedBreakers.Track(controller);
            built = (builder.Build(), controller);
            _built[name] = built;
            return built;
        }
    }

    private IBreakerStateStore Store(TimeProvider time, ILoggerFactory loggers)
    {
        if (_store is not null)
        {
            return _store;
        }

        CircuitBreakerOptions options = services.GetRequiredService<IOptions<CircuitBreakerOptions>>().Value;
        string instance = options.InstanceId ?? BreakerStateStore.NewInstanceId();
        if (options.Backend == CircuitBreakerBackend.InMemory)
        {
            return _store = new InMemoryBreakerStateStore(InMemoryBreakerStateBackend.Shared, instance);
        }

        _connection = RedisConnectionSource.Resolve(services, options.ConnectionString, "Lilith.CircuitBreaker");

        // Never waited for here: the breakers work on their local state until the connection is made.
        Task<StackExchange.Redis.IConnectionMultiplexer> connecting = _connection.GetAsync().AsTask();
        return _store = new RedisBreakerStateStore(connecting, options.KeyPrefix, instance, options.SyncInterval, options.StateTtl, time, loggers);
    }

    public async ValueTask DisposeAsync()
    {
        // Registered under two service types, so the container may dispose it twice.
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        lock (_gate)
        {
            foreach (var (_, breaker) in _built.Values)
            {
                TrackedBreakers.Untrack(breaker);
                breaker.Dispose();
            }

            _built.Clear();
        }

        if (_store is not null)
        {
            await _store.DisposeAsync().ConfigureAwait(false);
        }

        if (_connection is not null)
        {
            await _connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>Gives the registry the controller behind a strategy.</summary>
internal interface ICircuitBreakerSource
{
    BreakerController Controller { get; }
}
