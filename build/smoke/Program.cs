// Uses each package the way its README shows, on the Redis named by SMOKE_REDIS, and exits 0 when all five worked.
using Lilith.CircuitBreaker;
using Lilith.DistributedLock;
using Lilith.DomainEvents;
using Lilith.ServiceAddresses;
using Lilith.ServiceDiscovery;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

string redis = Environment.GetEnvironmentVariable("SMOKE_REDIS") ?? throw new InvalidOperationException("SMOKE_REDIS is not set.");
string prefix = "smoke-" + Guid.NewGuid().ToString("N")[..8];
string registry = Path.Combine(AppContext.BaseDirectory, "services.yaml");
File.WriteAllText(registry, "version: 1\nservices:\n  api: { port: 18080, dependencies: [db] }\n  db: { port: 15432 }\n");

HostApplicationBuilder builder = Host.CreateApplicationBuilder(args);
builder.Services.AddServiceAddresses(registry, o => { o.Backend = ServiceAddressesBackend.Redis; o.ConnectionString = redis; o.KeyPrefix = prefix; o.Environment = "development"; });
builder.Services.AddServiceDiscovery(o => { o.ConnectionString = redis; o.KeyPrefix = prefix; });
builder.Services.AddCircuitBreaker(o => { o.Backend = CircuitBreakerBackend.Redis; o.ConnectionString = redis; o.KeyPrefix = prefix; });
builder.Services.AddCircuitBreaker("billing");
builder.Services.AddDistributedLock(o => { o.Backend = DistributedLockBackend.Redis; o.ConnectionString = redis; o.KeyPrefix = prefix; });
builder.Services.AddSingleton<Seen>();
builder.Services.AddDomainEvents(o => { o.Transport = DomainEventTransport.Redis; o.ConnectionString = redis; o.KeyPrefix = prefix; o.ServiceName = "smoke"; o.Stream = "smoke"; })
    .AddHandler<SmokeHappened, SmokeHandler>();

using IHost host = builder.Build();
using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
CancellationToken ct = timeout.Token;
await host.StartAsync(ct);
IServiceProvider services = host.Services;

IServiceAddresses addresses = services.GetRequiredService<IServiceAddresses>();
Check(addresses.GetPort("api") == 18080, "ServiceAddresses: GetPort(api)");
Check(await services.GetRequiredService<IServiceAddressStore>().PublishAsync(addresses, ct) >= 1, "ServiceAddresses: PublishAsync");

await services.GetRequiredService<IServiceRegistry>().RegisterAsync("orders", new ServiceInstance { Id = "orders-1", Host = "127.0.0.1", Port = 8080 }, ct);
Check((await services.GetRequiredService<IServiceResolver>().ResolveAsync("orders", cancellationToken: ct)).Any(i => i.Id == "orders-1"), "ServiceDiscovery: RegisterAsync + ResolveAsync");

ICircuitBreaker breaker = services.GetRequiredService<ICircuitBreakerRegistry>().GetBreaker("billing");
Check(breaker.State == CircuitState.Closed, "CircuitBreaker: GetBreaker(billing) is closed");

await using (IDistributedLockHandle handle = await services.GetRequiredService<IDistributedLockProvider>().AcquireAsync("smoke", TimeSpan.FromSeconds(10), cancellationToken: ct))
{
    Check(handle.FencingToken >= 1, "DistributedLock: AcquireAsync");
}

await services.GetRequiredService<IDomainEventPublisher>().PublishAsync(new SmokeHappened("s-1"), cancellationToken: ct);
Seen seen = services.GetRequiredService<Seen>();
while (!seen.Ids.Contains("s-1"))
{
    await Task.Delay(20, ct);
}

Console.WriteLine("DomainEvents: PublishAsync + handler: ok");
await host.StopAsync(ct);
Console.WriteLine("smoke: all five packages ok");
return 0;

static void Check(bool ok, string what)
{
    if (!ok)
    {
        throw new InvalidOperationException("smoke check failed: " + what);
    }

    Console.WriteLine(what + ": ok");
}

[DomainEvent("com.example.smoke.happened.v1")]
public sealed record SmokeHappened(string Id);

public sealed class Seen
{
    public System.Collections.Concurrent.ConcurrentBag<string> Ids { get; } = [];
}

public sealed class SmokeHandler(Seen seen) : IDomainEventHandler<SmokeHappened>
{
    public ValueTask HandleAsync(SmokeHappened domainEvent, CloudEvent envelope, CancellationToken cancellationToken)
    {
        seen.Ids.Add(domainEvent.Id);
        return default;
    }
}
