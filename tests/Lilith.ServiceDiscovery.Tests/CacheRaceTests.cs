using Lilith.ServiceDiscovery.Internal;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lilith.ServiceDiscovery.Tests;

/// <summary>
/// Changes that land while a load of the cache is in flight: the load read the service before the change, and the
/// change's event arrives before the load's reply. A held load (read, then its reply held back) makes the order exact.
/// </summary>
public sealed class CacheRaceTests
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(5);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static DiscoveryOptions Options(string prefix, TimeSpan refresh) => new()
    {
        KeyPrefix = prefix,
        Ttl = TimeSpan.FromSeconds(30),
        SweepInterval = TimeSpan.FromSeconds(30),
        RefreshInterval = refresh,
    };

    private static ServiceInstance Instance(string id) => new() { Id = id, Host = "10.0.0.1", Port = 8080 };

    [Fact]
    public async Task A_change_published_while_the_first_load_is_in_flight_reaches_the_cache_before_the_refresh_interval()
    {
        await using var clients = new Clients(TimeSpan.FromMinutes(10));
        (HeldBackend held, DiscoveryClient watcher, DiscoveryClient writer, EventLog events) = clients;

        Task<LoadReply> read = held.HoldNext();
        ValueTask<IReadOnlyList<ServiceInstance>> first = watcher.ResolveAsync("billing", cancellationToken: Ct);
        Assert.Empty((await read.WaitAsync(Within, Ct)).Entries);
        await writer.RegisterAsync("billing", Instance("billing-1"), Ct);
        // The watcher has handled the event (watchers get it after the cache saw it), with the load still held.
        await Eventually.TrueAsync(() => events.Has(DiscoveryEventKind.Registered, "billing-1"), Within, "the registered event arrived");
        held.Release();

        Assert.Empty(await first);
        await Eventually.TrueAsync(async () => (await watcher.ResolveAsync("billing", cancellationToken: Ct)).Count == 1, Within,
            "the cache has the instance (the refresh interval is 10 minutes)");
    }

    [Fact]
    public async Task A_reload_that_read_before_a_change_does_not_undo_the_change_applied_meanwhile()
    {
        await using var clients = new Clients(TimeSpan.FromMilliseconds(100));
        (HeldBackend held, DiscoveryClient watcher, DiscoveryClient writer, EventLog events) = clients;
        Assert.Empty(await watcher.ResolveAsync("billing", cancellationToken: Ct));

        // The next periodic reload reads the service, then the change lands and its event is applied.
        Task<LoadReply> read = held.HoldNext();
        Assert.Empty((await read.WaitAsync(Within, Ct)).Entries);
        await writer.RegisterAsync("billing", Instance("billing-2"), Ct);
        await Eventually.TrueAsync(() => events.Has(DiscoveryEventKind.Registered, "billing-2"), Within, "the registered event arrived");
        Assert.Single(await watcher.ResolveAsync("billing", cancellationToken: Ct));
        int loads = held.Loads;
        held.Release();

        // Once the next reload has started, the held one has finished: it must not have put its older snapshot back.
        await Eventually.TrueAsync(() => held.Loads > loads, Within, "the next periodic reload started");
        Assert.Single(await watcher.ResolveAsync("billing", cancellationToken: Ct));
        Assert.DoesNotContain(events.Events, e => e.Kind == DiscoveryEventKind.Deregistered);
    }

    /// <summary>
    /// A watching client on a <see cref="HeldBackend"/> backend (refreshing every <paramref name="refresh"/>), a writing
    /// client on the same in-memory data, and the watcher's events.
    /// </summary>
    private sealed class Clients : IAsyncDisposable
    {
        private readonly HeldBackend _held;
        private readonly DiscoveryClient _watcher;
        private readonly DiscoveryClient _writer;
        private readonly EventLog _events;

        public Clients(TimeSpan refresh)
        {
            string prefix = "race-" + Guid.NewGuid().ToString("N");
            _held = new HeldBackend(new InMemoryDiscoveryBackend(prefix, TimeProvider.System));
            _watcher = new DiscoveryClient(_held, Options(prefix, refresh), TimeProvider.System, NullLogger.Instance);
            _writer = new DiscoveryClient(new InMemoryDiscoveryBackend(prefix, TimeProvider.System), Options(prefix, TimeSpan.FromMinutes(10)), TimeProvider.System, NullLogger.Instance);
            _events = new EventLog(_watcher, null);
        }

        public void Deconstruct(out HeldBackend held, out DiscoveryClient watcher, out DiscoveryClient writer, out EventLog events) =>
            (held, watcher, writer, events) = (_held, _watcher, _writer, _events);

        public async ValueTask DisposeAsync()
        {
            await _events.DisposeAsync();
            await _writer.DisposeAsync();
            await _watcher.DisposeAsync();
        }
    }
}
