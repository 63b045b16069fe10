using System.Collections.Concurrent;
using System.Diagnostics;
using Lilith.DistributedLock;
using Lilith.DomainEvents;
using Lilith.ServiceDiscovery;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace Lilith.Topology.Tests;

/// <summary>
/// Locks, discovery and events connected through Sentinel (<c>serviceName=...</c>) while <c>SENTINEL FAILOVER</c> moves
/// the master mid-run: the packages follow the new master by themselves, and what they promise holds or its loss is
/// signalled. Each test owns its master, replica and three sentinels; every wait is bounded.
/// </summary>
[Trait("Redis", "own-servers")]
public sealed class SentinelFailoverTests(RedisFixture redis)
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(20);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_lock_held_across_failover_is_kept_or_its_loss_is_signalled_never_two_unnoticed_holders()
    {
        RedisSentinelSet set = await redis.StartOwnedSentinelSetAsync();
        var access = RedisAccess.Option(set.ConnectionString);
        string prefix = RedisFixture.NewPrefix();
        using IHost a = await Packages.StartAsync(Packages.DistributedLock, access, prefix, cancellationToken: Ct);
        using IHost b = await Packages.StartAsync(Packages.DistributedLock, access, prefix, cancellationToken: Ct);
        IDistributedLockProvider locksA = a.Services.GetRequiredService<IDistributedLockProvider>();
        IDistributedLockProvider locksB = b.Services.GetRequiredService<IDistributedLockProvider>();
        TimeSpan lease = TimeSpan.FromSeconds(3); // Packages sets DefaultTtl 3 s: renewed about every second

        await using IDistributedLockHandle holder = await locksA.AcquireAsync("orders", Within, cancellationToken: Ct);
        var contenderWon = new TaskCompletionSource<(IDistributedLockHandle Handle, bool HolderAlreadyLost, TimeSpan At)>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stopContender = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var clock = Stopwatch.StartNew();
        Task contender = Task.Run(async () =>
        {
            while (!stopContender.IsCancellationRequested)
            {
                try
                {
                    if (await locksB.TryAcquireAsync("orders", cancellationToken: stopContender.Token) is { } won)
                    {
                        contenderWon.TrySetResult((won, holder.LostToken.IsCancellationRequested, clock.Elapsed));
                        return;
                    }
                }
                catch (Exception e) when (e is RedisException or DistributedLockException)
                {
                    // The master is moving; the contender tries again.
                }

                await Task.Delay(100, stopContender.Token).ConfigureAwait(false);
            }
        }, Ct);

        int newMaster = await set.FailoverAsync(Ct);
        TimeSpan failedOverAt = clock.Elapsed;
        // Two leases after the switch: time for renewals on the new master, or for the loss to be found.
        await Task.WhenAny(contenderWon.Task, Task.Delay(2 * lease, Ct));

        if (contenderWon.Task.IsCompleted)
        {
            (IDistributedLockHandle won, bool holderAlreadyLost, TimeSpan at) = await contenderWon.Task;
            await using IDistributedLockHandle _ = won;
            // Two holders may overlap only until the first one's next renewal finds the lock gone: LostToken fires then.
            await Eventually.TrueAsync(() => holder.LostToken.IsCancellationRequested, lease + TimeSpan.FromSeconds(2),
                $"the first holder's LostToken fires after the contender got the lock at {at.TotalSeconds:0.0} s (already lost then: {holderAlreadyLost})");
            Assert.True(won.FencingToken > holder.FencingToken || won.FencingToken == holder.FencingToken && holderAlreadyLost,
                $"fencing tokens: holder {holder.FencingToken}, contender {won.FencingToken}");
        }
        else if (!holder.LostToken.IsCancellationRequested)
        {
            // Kept: the lock lives on the new master, the holder still renews it, and the contender is still refused.
            await using IConnectionMultiplexer direct = await RedisFixture.ConnectAsync($"127.0.0.1:{newMaster}");
            Assert.True(await direct.GetDatabase().KeyExistsAsync($"{prefix}:lock:{{orders}}"), "the held lock is on the new master");
            Assert.Null(await locksB.TryAcquireAsync("orders", cancellationToken: Ct));
        }

        await stopContender.CancelAsync();
        await Task.WhenAny(contender, Task.Delay(Within, Ct));

        // The providers reconnected by themselves: a new lock is taken and lands on the new master.
        await using IDistributedLockHandle after = await locksA.AcquireAsync("after-failover", Within, cancellationToken: Ct);
        await using (IConnectionMultiplexer direct = await RedisFixture.ConnectAsync($"127.0.0.1:{newMaster}"))
        {
            Assert.True(await direct.GetDatabase().KeyExistsAsync($"{prefix}:lock:{{after-failover}}"));
        }

        Assert.True(clock.Elapsed - failedOverAt < TimeSpan.FromSeconds(45), "bounded in time");
    }

    [Fact]
    public async Task Discovery_keeps_instances_registered_and_watchers_fed_across_failover()
    {
        RedisSentinelSet set = await redis.StartOwnedSentinelSetAsync();
        var access = RedisAccess.Option(set.ConnectionString);
        string prefix = RedisFixture.NewPrefix();
        using IHost a = await Packages.StartAsync(Packages.ServiceDiscovery, access, prefix, cancellationToken: Ct);
        using IHost b = await Packages.StartAsync(Packages.ServiceDiscovery, access, prefix, cancellationToken: Ct);
        IServiceRegistry registry = a.Services.GetRequiredService<IServiceRegistry>();
        IServiceResolver resolver = b.Services.GetRequiredService<IServiceResolver>();
        await registry.RegisterAsync("orders", new ServiceInstance { Id = "orders-1", Host = "10.0.0.1", Port = 8001 }, Ct);
        await Eventually.TrueAsync(async () => (await resolver.ResolveAsync("orders", cancellationToken: Ct)).Any(i => i.Id == "orders-1"), Within, "orders-1 resolved before the failover");
        var events = new ConcurrentQueue<DiscoveryEvent>();
        using var stopWatch = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        Task watching = Task.Run(async () =>
        {
            try
            {
                await foreach (DiscoveryEvent e in resolver.WatchAsync("orders", stopWatch.Token))
                {
                    events.Enqueue(e);
                }
            }
            catch (OperationCanceledException) when (stopWatch.IsCancellationRequested)
            {
            }
        }, Ct);

        int newMaster = await set.FailoverAsync(Ct);

        // Heartbeats go on against the new master (a registration lost in the switch is written again by the client).
        await using IConnectionMultiplexer direct = await RedisFixture.ConnectAsync($"127.0.0.1:{newMaster}");
        await Eventually.TrueAsync(async () => await direct.GetDatabase().HashExistsAsync($"{prefix}:discovery:{{orders}}:instances", "orders-1"),
            Within, "orders-1 is registered on the new master");
        await Eventually.TrueAsync(async () => resolver.IsBackendReachable && (await resolver.ResolveAsync("orders", cancellationToken: Ct)).Any(i => i.Id == "orders-1"),
            Within, "the resolver still resolves orders-1 after the failover");

        // The watcher's subscription follows the new master: a registration made now arrives as an event.
        await registry.RegisterAsync("orders", new ServiceInstance { Id = "orders-2", Host = "10.0.0.2", Port = 8002 }, Ct);
        await Eventually.TrueAsync(() => events.Any(e => e.Kind == DiscoveryEventKind.Registered && e.InstanceId == "orders-2"), Within, "the watcher sees orders-2 registered after the failover");
        await Eventually.TrueAsync(async () => (await resolver.ResolveAsync("orders", cancellationToken: Ct)).Select(i => i.Id).Order().SequenceEqual(["orders-1", "orders-2"]),
            Within, "both instances resolved");
        await stopWatch.CancelAsync();
        await Task.WhenAny(watching, Task.Delay(Within, Ct));
    }

    [Fact]
    public Task Events_flow_on_across_failover_and_the_consumer_resumes_by_itself() => EventsAcrossFailoverAsync(strict: false);

    // Without replica acknowledgements, the old master still acknowledges XADD between the promotion and its demotion,
    // and its resync then drops the entry (about 1 run in 3 lost one such event here). With ReplicaAcknowledgements = 1
    // such a publish is refused (and retried on the new master) instead: every acknowledged publish must be handled.
    [Fact]
    public Task Events_acknowledged_by_a_replica_during_failover_are_never_lost() => EventsAcrossFailoverAsync(strict: true);

    private async Task EventsAcrossFailoverAsync(bool strict)
    {
        RedisSentinelSet set = await redis.StartOwnedSentinelSetAsync();
        var access = RedisAccess.Option(set.ConnectionString);
        string prefix = RedisFixture.NewPrefix();
        using IHost consumer = await Packages.StartAsync(Packages.DomainEvents, access, prefix, cancellationToken: Ct);
        using IHost publisherHost = await Packages.StartAsync(Packages.DomainEvents, access, prefix,
            more: strict ? services => services.Configure<DomainEventsOptions>(o => o.ReplicaAcknowledgements = 1) : null, cancellationToken: Ct);
        IDomainEventPublisher publisher = publisherHost.Services.GetRequiredService<IDomainEventPublisher>();
        PingLog handled = consumer.Services.GetRequiredService<PingLog>();
        PingLog handledToo = publisherHost.Services.GetRequiredService<PingLog>();
        bool Handled(string id) => handled.Seen.ContainsKey(id) || handledToo.Seen.ContainsKey(id);

        var before = new List<string>();
        for (int i = 0; i < 30; i++)
        {
            await publisher.PublishAsync(new Ping($"before-{i}"), cancellationToken: Ct);
            before.Add($"before-{i}");
        }

        await Eventually.TrueAsync(() => before.All(Handled), Within, "events published before the failover are handled");

        // Publish on while the master moves: each publish either returns (acknowledged) or throws (refused, the caller knows).
        var acknowledged = new ConcurrentQueue<string>();
        var refused = new ConcurrentQueue<string>();
        using var stopPublishing = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        Task publishing = Task.Run(async () =>
        {
            for (int i = 0; !stopPublishing.IsCancellationRequested; i++)
            {
                string id = $"during-{i}";
                try
                {
                    await publisher.PublishAsync(new Ping(id), cancellationToken: stopPublishing.Token);
                    acknowledged.Enqueue(id);
                }
                catch (DomainEventPublishException)
                {
                    refused.Enqueue(id);
                }
                catch (OperationCanceledException) when (stopPublishing.IsCancellationRequested)
                {
                    return;
                }

                await Task.Delay(20, CancellationToken.None).ConfigureAwait(false);
            }
        }, Ct);

        await set.FailoverAsync(Ct);
        await Eventually.TrueAsync(() => acknowledged.Count > 0 && acknowledged.Last() is var last && Handled(last), Within,
            "an event published after the switch is handled");
        await stopPublishing.CancelAsync();
        await publishing;

        var after = new List<string>();
        for (int i = 0; i < 30; i++)
        {
            await publisher.PublishAsync(new Ping($"after-{i}"), cancellationToken: Ct);
            after.Add($"after-{i}");
        }

        await Eventually.TrueAsync(() => after.All(Handled), Within, "events published after the failover are handled by the same consumer, which reconnected by itself");
        Assert.All(before, id => Assert.True(Handled(id)));
        if (!strict)
        {
            // Reported, not asserted: see the skipped strict test above.
            TestContext.Current.SendDiagnosticMessage($"failover: {acknowledged.Count} acknowledged, {refused.Count} refused, {acknowledged.Count(id => !Handled(id))} acknowledged but not handled");
            return;
        }

        await Eventually.TrueAsync(() => acknowledged.All(Handled), TimeSpan.FromSeconds(10),
            $"every acknowledged publish during the failover is handled ({acknowledged.Count} acknowledged, {refused.Count} refused, " +
            $"not handled: {string.Join(", ", acknowledged.Where(id => !Handled(id)))})");
    }
}
