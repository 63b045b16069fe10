using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace Lilith.Common;

/// <summary>
/// Where a package's Redis backend gets its connection: a connection string from the package's options
/// (the package then owns and disposes the connection), else the <see cref="IConnectionMultiplexer"/>
/// registered in DI (shared, never disposed here). Connecting is lazy, happens once, and does not fail
/// when Redis is down at start: StackExchange.Redis keeps reconnecting in the background.
/// </summary>
internal sealed class RedisConnectionSource : IAsyncDisposable
{
    private readonly IConnectionMultiplexer? _shared;
    private readonly ConfigurationOptions? _options;
    private readonly object _gate = new();
    private Task<IConnectionMultiplexer>? _connecting;

    /// <summary>Uses a connection owned by someone else.</summary>
    public RedisConnectionSource(IConnectionMultiplexer shared)
    {
        ArgumentNullException.ThrowIfNull(shared);
        _shared = shared;
        _connecting = Task.FromResult(shared);
    }

    /// <summary>Connects, on first use, with <paramref name="connectionString"/> and owns the connection.</summary>
    public RedisConnectionSource(string connectionString)
    {
        _options = RedisConnectionString.Parse(connectionString);
        _options.AbortOnConnectFail = false;
        Description = RedisConnectionString.Redact(connectionString);
    }

    /// <summary>Where this source connects, safe to log (no password).</summary>
    public string Description { get; } = "the IConnectionMultiplexer registered in DI";

    /// <summary>
    /// Picks the source for a package: <paramref name="connectionString"/> when set, else the registered
    /// <see cref="IConnectionMultiplexer"/>; throws a message that says how to configure one otherwise.
    /// </summary>
    public static RedisConnectionSource Resolve(IServiceProvider services, string? connectionString, string packageName)
    {
        if (!string.IsNullOrWhiteSpace(connectionString))
        {
            return new RedisConnectionSource(connectionString);
        }

        return services.GetService<IConnectionMultiplexer>() is { } shared
            ? new RedisConnectionSource(shared)
            : throw new InvalidOperationException(
                $"{packageName} is configured for Redis but has no connection: set the ConnectionString option " +
                "or register an IConnectionMultiplexer in the service collection.");
    }

    /// <summary>The connection, connecting on first call.</summary>
    public ValueTask<IConnectionMultiplexer> GetAsync(CancellationToken cancellationToken = default)
    {
        Task<IConnectionMultiplexer>? connecting = Volatile.Read(ref _connecting);
        if (connecting is { IsCompletedSuccessfully: true })
        {
            return new ValueTask<IConnectionMultiplexer>(connecting.Result);
        }

        lock (_gate)
        {
            if (_connecting is null || _connecting.IsFaulted || _connecting.IsCanceled)
            {
                _connecting = ConnectAsync();
            }

            connecting = _connecting;
        }

        return new ValueTask<IConnectionMultiplexer>(connecting.WaitAsync(cancellationToken));
    }

    private async Task<IConnectionMultiplexer> ConnectAsync() =>
        await ConnectionMultiplexer.ConnectAsync(_options!).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_shared is not null)
        {
            return;
        }

        Task<IConnectionMultiplexer>? connecting;
        lock (_gate)
        {
            connecting = _connecting;
            _connecting = null;
        }

        if (connecting is { IsCompletedSuccessfully: true })
        {
            await connecting.Result.DisposeAsync().ConfigureAwait(false);
        }
    }
}
