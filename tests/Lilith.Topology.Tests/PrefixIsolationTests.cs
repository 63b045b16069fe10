using Lilith.CircuitBreaker;
using Lilith.DistributedLock;
using Lilith.DomainEvents;
using Lilith.ServiceAddresses;
using Lilith.ServiceDiscovery;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace Lilith.Topology.Tests;

/// <summary>
/// Two prefixes on one Redis (the shared test server: standalone, or the cluster in the cluster pass) never see each
/// other's data: every package is run with prefix A and prefix B on the same names.
/// </summary>
public sealed class PrefixIsolationTests(RedisFixture redis)
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(15);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(Packages.All), MemberType = typeof(Packages))]
    public async Task Two_prefixes_on_one_Redis_never_see_each_others_data(string package)
    {
        var access = RedisAccess.Option(await redis.GetConnectionStringAsync());
        string prefixA = RedisFixture.NewPrefix();
        string prefixB = RedisFixture.NewPrefix();
        using IHost a = await Packages.StartAsync(package, access, prefixA, cancellationToken: Ct);
        using IHost a2 = await Packages.StartAsync(package, access, prefixA, cancellationToken: Ct);
        using IHost b = await Packages.StartAsync(package, access, prefixB, cancellationToken: Ct);
        switch (package)
        {
            case Packages.ServiceAddresses:
            {
                IServiceAddressStore storeA = a.Services.GetRequiredService<IServiceAddressStore>();
                IServiceAddressStore storeB = b.Services.GetRequiredService<IServiceAddressStore>();
                await storeA.PublishAsync(a.Services.GetRequiredService<IServiceAddresses>(), Ct);
                Assert.NotNull(await a2.Services.GetRequiredService<IServiceAddressStore>().LoadAsync("development", Ct));
                Assert.Null(await storeB.LoadAsync("development", Ct));
                await using IPortClaim? claimA = await storeA.TryClaimPortAsync("development", "localhost", 18080, "api", Ct);
                Assert.NotNull(claimA);
                Assert.Null(await a2.Services.GetRequiredService<IServiceAddressStore>().TryClaimPortAsync("development", "localhost", 18080, "other", Ct));
                await using IPortClaim? claimB = await storeB.TryClaimPortAsync("development", "localhost", 18080, "api", Ct);
                Assert.NotNull(claimB);
                break;
            }

            case Packages.ServiceDiscovery:
            {
                await a.Services.GetRequiredService<IServiceRegistry>().RegisterAsync("orders", new ServiceInstance { Id = "a-1", Host = "10.0.0.1", Port = 1 }, Ct);
                await b.Services.GetRequiredService<IServiceRegistry>().RegisterAsync("orders", new ServiceInstance { Id = "b-1", Host = "10.0.0.2", Port = 2 }, Ct);
                IServiceResolver resolverA = a2.Services.GetRequiredService<IServiceResolver>();
                IServiceResolver resolverB = b.Services.GetRequiredService<IServiceResolver>();
                await Eventually.TrueAsync(async () => (await resolverA.ResolveAsync("orders", cancellationToken: Ct)).Any(), Within, "A resolves its instance");
                Assert.Equal(["a-1"], (await resolverA.ResolveAsync("orders", cancellationToken: Ct)).Select(i => i.Id));
                Assert.Equal(["b-1"], (await resolverB.ResolveAsync("orders", cancellationToken: Ct)).Select(i => i.Id));
                break;
            }

            case Packages.CircuitBreaker:
            {
                a.Services.GetRequiredService<ICircuitBreakerRegistry>().GetBreaker("billing").Isolate();
                await Eventually.TrueAsync(() => a2.Services.GetRequiredService<ICircuitBreakerRegistry>().GetBreaker("billing").State == CircuitState.Isolated,
                    Within, "A's other instance sees the isolation");
                // Same breaker name under prefix B: a fresh instance reads B's (absent) shared state and stays closed.
                using IHost b2 = await Packages.StartAsync(package, access, prefixB, cancellationToken: Ct);
                await Task.Delay(TimeSpan.FromMilliseconds(600), Ct); // three sync intervals of 200 ms: enough for a wrong read to show
                Assert.Equal(CircuitState.Closed, b.Services.GetRequiredService<ICircuitBreakerRegistry>().GetBreaker("billing").State);
                Assert.Equal(CircuitState.Closed, b2.Services.GetRequiredService<ICircuitBreakerRegistry>().GetBreaker("billing").State);
                break;
            }

            case Packages.DistributedLock:
            {
                await using IDistributedLockHandle heldA = await a.Services.GetRequiredService<IDistributedLockProvider>().AcquireAsync("orders", TimeSpan.FromSeconds(5), cancellationToken: Ct);
                Assert.Null(await a2.Services.GetRequiredService<IDistributedLockProvider>().TryAcquireAsync("orders", cancellationToken: Ct));
                await using IDistributedLockHandle? heldB = await b.Services.GetRequiredService<IDistributedLockProvider>().TryAcquireAsync("orders", cancellationToken: Ct);
                Assert.NotNull(heldB);
                // Each prefix counts its own fencing tokens: each fence key holds its own holder's token.
                IDatabase db = (await redis.ConnectionAsync()).GetDatabase();
                Assert.Equal(heldA.FencingToken, (long)await db.StringGetAsync($"{prefixA}:lock:{{orders}}:fence"));
                Assert.Equal(heldB.FencingToken, (long)await db.StringGetAsync($"{prefixB}:lock:{{orders}}:fence"));
                break;
            }

            case Packages.DomainEvents:
            {
                string idA = "a-" + Guid.NewGuid().ToString("N");
                string idB = "b-" + Guid.NewGuid().ToString("N");
                await a.Services.GetRequiredService<IDomainEventPublisher>().PublishAsync(new Ping(idA), cancellationToken: Ct);
                await b.Services.GetRequiredService<IDomainEventPublisher>().PublishAsync(new Ping(idB), cancellationToken: Ct);
                PingLog logA = a.Services.GetRequiredService<PingLog>();
                PingLog logA2 = a2.Services.GetRequiredService<PingLog>();
                PingLog logB = b.Services.GetRequiredService<PingLog>();
                await Eventually.TrueAsync(() => (logA.Seen.ContainsKey(idA) || logA2.Seen.ContainsKey(idA)) && logB.Seen.ContainsKey(idB), Within, "each prefix handles its event");
                Assert.Equal([idB], logB.Seen.Keys);
                Assert.DoesNotContain(idB, logA.Seen.Keys.Concat(logA2.Seen.Keys));
                break;
            }
        }

        await b.StopAsync(Ct);
        await a2.StopAsync(Ct);
        await a.StopAsync(Ct);
    }
}
