using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Lilith.DomainEvents.Tests;

/// <summary>Consumer identity attacked: a consumer killed with entries in hand and started again, dead consumers, a forgotten service name.</summary>
public sealed class RedisConsumerIdentityTests(RedisFixture redis)
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(15);
    private readonly string _prefix = RedisFixture.NewPrefix();

    private CancellationToken Ct => TestContext.Current.CancellationToken;

    private string StreamKey => $"{_prefix}:events:{{orders}}";

    private IHost Build(Recorder recorder, IConnectionMultiplexer connection, Action<DomainEventsOptions> configure) =>
        EventsHost.Build(recorder, o =>
        {
            o.Transport = DomainEventTransport.Redis;
            o.KeyPrefix = _prefix;
            o.ConsumerName = null;
            configure(o);
        }, s => s.AddSingleton(connection));

    [Fact]
    public async Task A_killed_consumer_started_again_with_default_options_handles_its_entries_within_one_poll_and_leaves_no_dead_consumer()
    {
        string service = "restart-" + Guid.NewGuid().ToString("N")[..8];
        var stuck = new Recorder { Delay = ct => Task.Delay(Timeout.Infinite, ct) };
        IConnectionMultiplexer connectionA = await redis.NewConnectionAsync();
        using (IHost a = Build(stuck, connectionA, o => o.ServiceName = service))
        {
            // Published before the consumer starts, so its first read takes all three and runs them side by side.
            IDomainEventPublisher publisher = a.Services.GetRequiredService<IDomainEventPublisher>();
            for (int i = 0; i < 3; i++)
            {
                await publisher.PublishAsync(new OrderPlaced($"o-{i}", i), cancellationToken: Ct);
            }

            await a.StartAsync(Ct);

            await EventsHost.WaitUntilAsync(() => stuck.Attempts.Count == 3, Within, "the first consumer holds all three events");
            // Killed: its connection drops under the three entries in hand, then the process ends.
            await connectionA.CloseAsync(allowCommandsToComplete: false);
            await a.StopAsync(Ct);
        }

        var recorder = new Recorder();
        using IHost b = Build(recorder, await redis.ConnectionAsync(), o => o.ServiceName = service);
        await b.StartAsync(Ct);
        // The claim idle time is the default 30 s: only draining its own pending entries is this fast.
        await EventsHost.WaitUntilAsync(() => stuck.Attempts.Keys.All(recorder.Successes.ContainsKey), TimeSpan.FromSeconds(10),
            "the restarted consumer handled the entries it held before");
        // One consumer in the group (the same name as before the kill), and its acknowledgements arrive.
        IDatabase db = (await redis.ConnectionAsync()).GetDatabase();
        using var deadline = new CancellationTokenSource(Within);
        StreamConsumerInfo[] consumers;
        while ((consumers = await db.StreamConsumerInfoAsync(StreamKey, service)) is not [{ PendingMessageCount: 0 }])
        {
            Assert.False(deadline.IsCancellationRequested, $"the group holds {string.Join(", ", consumers.Select(c => $"{c.Name} ({c.PendingMessageCount} pending)"))}");
            await Task.Delay(20, Ct);
        }

        await b.StopAsync(Ct);
    }

    [Fact]
    public async Task Consumers_idle_past_the_bound_that_hold_nothing_are_deleted_and_one_that_holds_an_entry_is_kept()
    {
        IDatabase db = (await redis.ConnectionAsync()).GetDatabase();
        await db.StreamAddAsync(StreamKey, "v", "1");
        await db.StreamCreateConsumerGroupAsync(StreamKey, "billing", StreamPosition.Beginning);
        await db.StreamReadGroupAsync(StreamKey, "billing", "holder", StreamPosition.NewMessages, 1);
        await db.ExecuteAsync("XGROUP", "CREATECONSUMER", StreamKey, "billing", "ghost");

        using IHost host = Build(new Recorder(), await redis.ConnectionAsync(), o =>
        {
            o.ServiceName = "billing";
            o.ConsumerIdleTimeout = TimeSpan.FromMilliseconds(300);
            o.ReadBlockTime = TimeSpan.FromMilliseconds(50);
            o.ClaimInterval = TimeSpan.FromMilliseconds(50);
            o.ClaimIdleTime = TimeSpan.FromHours(1);
        });
        await host.StartAsync(Ct);
        using var deadline = new CancellationTokenSource(Within);
        string[] names;
        while ((names = (await db.StreamConsumerInfoAsync(StreamKey, "billing")).Select(c => c.Name.ToString()).ToArray()).Contains("ghost"))
        {
            Assert.False(deadline.IsCancellationRequested, $"the idle consumer was not deleted: {string.Join(", ", names)}");
            await Task.Delay(20, Ct);
        }

        await host.StopAsync(Ct);
        Assert.Contains("holder", names);
    }

    [Fact]
    public async Task A_service_with_a_handler_and_no_service_name_fails_to_start_naming_the_option()
    {
        using IHost host = Build(new Recorder(), await redis.ConnectionAsync(), o => o.ServiceName = null);

        OptionsValidationException e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(Ct));
        Assert.Contains("DomainEventsOptions.ServiceName: required", e.Message, StringComparison.Ordinal);
    }
}
