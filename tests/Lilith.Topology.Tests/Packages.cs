using System.Collections.Concurrent;
using Lilith.CircuitBreaker;
using Lilith.DistributedLock;
using Lilith.DomainEvents;
using Lilith.ServiceAddresses;
using Lilith.ServiceDiscovery;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Lilith.Topology.Tests;

/// <summary>How a package reaches Redis in a test: its own <c>ConnectionString</c> option, or an <see cref="IConnectionMultiplexer"/> registered in DI.</summary>
internal sealed record RedisAccess(string? ConnectionString, IConnectionMultiplexer? Multiplexer)
{
    public static RedisAccess Option(string connectionString) => new(connectionString, null);

    public static RedisAccess Registered(IConnectionMultiplexer multiplexer) => new(null, multiplexer);

    public override string ToString() => ConnectionString is null ? "a registered IConnectionMultiplexer" : "the ConnectionString option";
}

[DomainEvent("com.example.topology.ping.v1")]
public sealed record Ping(string Id);

/// <summary>Which <see cref="Ping"/> ids a host's handler saw.</summary>
public sealed class PingLog
{
    public ConcurrentDictionary<string, int> Seen { get; } = new();
}

public sealed class PingHandler(PingLog log) : IDomainEventHandler<Ping>
{
    public ValueTask HandleAsync(Ping domainEvent, CloudEvent envelope, CancellationToken cancellationToken)
    {
        log.Seen.AddOrUpdate(domainEvent.Id, 1, (_, n) => n + 1);
        return default;
    }
}

/// <summary>
/// Each of the five packages set up the way a user does (<c>AddXxx</c> on a host, Redis backend, a key prefix) and one
/// real round trip through it. The security, prefix and failover tests run these on the servers they start.
/// </summary>
internal static class Packages
{
    public const string ServiceAddresses = "ServiceAddresses";
    public const string ServiceDiscovery = "ServiceDiscovery";
    public const string CircuitBreaker = "CircuitBreaker";
    public const string DistributedLock = "DistributedLock";
    public const string DomainEvents = "DomainEvents";

    public static readonly TheoryData<string> All = [ServiceAddresses, ServiceDiscovery, CircuitBreaker, DistributedLock, DomainEvents];

    private static readonly Lazy<string> Registry = new(() =>
    {
        string path = Path.Combine(Path.GetTempPath(), $"lilith-topology-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, "version: 1\nservices:\n  api: { port: 18080, dependencies: [db] }\n  db: { port: 15432 }\n");
        return path;
    });

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A started host with <paramref name="package"/> on Redis through <paramref name="access"/> with <paramref name="prefix"/>.</summary>
    public static async Task<IHost> StartAsync(string package, RedisAccess access, string prefix, ILoggerProvider? logs = null,
        Action<IServiceCollection>? more = null, CancellationToken cancellationToken = default)
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Trace);
        if (logs is not null)
        {
            builder.Logging.AddProvider(logs);
        }

        if (access.Multiplexer is not null)
        {
            builder.Services.AddSingleton(access.Multiplexer);
        }

        string? connectionString = access.ConnectionString;
        switch (package)
        {
            case ServiceAddresses:
                builder.Services.AddServiceAddresses(Registry.Value, o =>
                {
                    o.Backend = ServiceAddressesBackend.Redis;
                    o.ConnectionString = connectionString;
                    o.KeyPrefix = prefix;
                    o.Environment = "development";
                });
                break;
            case ServiceDiscovery:
                builder.Services.AddServiceDiscovery(o =>
                {
                    o.ConnectionString = connectionString;
                    o.KeyPrefix = prefix;
                    o.Ttl = TimeSpan.FromSeconds(3);
                    o.SweepInterval = TimeSpan.FromMilliseconds(500);
                });
                break;
            case CircuitBreaker:
                builder.Services.AddCircuitBreaker(o =>
                {
                    o.Backend = CircuitBreakerBackend.Redis;
                    o.ConnectionString = connectionString;
                    o.KeyPrefix = prefix;
                    o.SyncInterval = TimeSpan.FromMilliseconds(200);
                });
                builder.Services.AddCircuitBreaker("billing");
                break;
            case DistributedLock:
                builder.Services.AddDistributedLock(o =>
                {
                    o.Backend = DistributedLockBackend.Redis;
                    o.ConnectionString = connectionString;
                    o.KeyPrefix = prefix;
                    o.DefaultTtl = TimeSpan.FromSeconds(3);
                    o.MaxPollInterval = TimeSpan.FromMilliseconds(100);
                });
                break;
            case DomainEvents:
                builder.Services.AddSingleton<PingLog>();
                builder.Services.AddDomainEvents(o =>
                {
                    o.Transport = DomainEventTransport.Redis;
                    o.ConnectionString = connectionString;
                    o.KeyPrefix = prefix;
                    o.ServiceName = "topology";
                    o.Stream = "pings";
                    o.ClaimIdleTime = TimeSpan.FromSeconds(1);
                    o.ClaimInterval = TimeSpan.FromMilliseconds(200);
                    o.PublishAttempts = 5;
                    o.PublishRetryDelay = TimeSpan.FromMilliseconds(200);
                }).AddHandler<Ping, PingHandler>();
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(package), package, "not one of the five packages");
        }

        more?.Invoke(builder.Services);
        IHost host = builder.Build();
        await host.StartAsync(cancellationToken);
        return host;
    }

    /// <summary>
    /// Writes through <paramref name="package"/> with prefix <paramref name="prefix"/> and reads it back through a second,
    /// separate host (so the data went through Redis): a registry and a port claim, an instance, an open breaker, a
    /// held lock, a handled event.
    /// </summary>
    public static async Task RoundTripAsync(string package, RedisAccess access, string prefix, ILoggerProvider? logs = null)
    {
        using IHost a = await StartAsync(package, access, prefix, logs, cancellationToken: Ct);
        using IHost b = await StartAsync(package, access, prefix, logs, cancellationToken: Ct);
        TimeSpan within = TimeSpan.FromSeconds(15);
        switch (package)
        {
            case ServiceAddresses:
            {
                IServiceAddressStore store = a.Services.GetRequiredService<IServiceAddressStore>();
                Assert.True(await store.PublishAsync(a.Services.GetRequiredService<IServiceAddresses>(), Ct) >= 1);
                PublishedRegistry? loaded = await b.Services.GetRequiredService<IServiceAddressStore>().LoadAsync("development", Ct);
                Assert.NotNull(loaded);
                Assert.Equal(18080, loaded.Registry.GetPort("api"));
                await using IPortClaim? claim = await store.TryClaimPortAsync("development", "localhost", 18080, "api", Ct);
                Assert.NotNull(claim);
                Assert.Null(await b.Services.GetRequiredService<IServiceAddressStore>().TryClaimPortAsync("development", "localhost", 18080, "other", Ct));
                break;
            }

            case ServiceDiscovery:
            {
                await a.Services.GetRequiredService<IServiceRegistry>().RegisterAsync("orders", new ServiceInstance { Id = "orders-1", Host = "10.0.0.1", Port = 8080 }, Ct);
                IServiceResolver resolver = b.Services.GetRequiredService<IServiceResolver>();
                await Eventually.TrueAsync(async () => (await resolver.ResolveAsync("orders", cancellationToken: Ct)).Any(i => i.Id == "orders-1"), within, "the other host resolves orders-1");
                Assert.True(await a.Services.GetRequiredService<IServiceRegistry>().DeregisterAsync("orders", "orders-1", Ct));
                break;
            }

            case CircuitBreaker:
            {
                a.Services.GetRequiredService<ICircuitBreakerRegistry>().GetBreaker("billing").Isolate();
                ICircuitBreaker other = b.Services.GetRequiredService<ICircuitBreakerRegistry>().GetBreaker("billing");
                await Eventually.TrueAsync(() => other.State == CircuitState.Isolated, within, "the other host sees the isolated breaker");
                break;
            }

            case DistributedLock:
            {
                await using IDistributedLockHandle held = await a.Services.GetRequiredService<IDistributedLockProvider>().AcquireAsync("orders", TimeSpan.FromSeconds(5), cancellationToken: Ct);
                Assert.Null(await b.Services.GetRequiredService<IDistributedLockProvider>().TryAcquireAsync("orders", cancellationToken: Ct));
                Assert.Equal(LockReleaseResult.Released, await held.ReleaseAsync());
                await using IDistributedLockHandle? next = await b.Services.GetRequiredService<IDistributedLockProvider>().TryAcquireAsync("orders", TimeSpan.FromSeconds(5), cancellationToken: Ct);
                Assert.NotNull(next);
                Assert.True(next.FencingToken > held.FencingToken);
                break;
            }

            case DomainEvents:
            {
                string id = Guid.NewGuid().ToString("N");
                await a.Services.GetRequiredService<IDomainEventPublisher>().PublishAsync(new Ping(id), cancellationToken: Ct);
                PingLog seenByA = a.Services.GetRequiredService<PingLog>();
                PingLog seenByB = b.Services.GetRequiredService<PingLog>();
                // One consumer group ("topology"): exactly one of the two hosts handles it.
                await Eventually.TrueAsync(() => seenByA.Seen.ContainsKey(id) || seenByB.Seen.ContainsKey(id), within, "the event is handled");
                break;
            }
        }

        await b.StopAsync(Ct);
        await a.StopAsync(Ct);
    }
}
