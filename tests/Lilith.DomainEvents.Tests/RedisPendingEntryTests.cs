using Lilith.DomainEvents.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace Lilith.DomainEvents.Tests;

/// <summary>Pending entries attacked on a real Redis: claimed by another consumer, trimmed away, hidden behind a busy head.</summary>
public sealed class RedisPendingEntryTests(RedisFixture redis)
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(15);
    private readonly string _prefix = RedisFixture.NewPrefix();

    private CancellationToken Ct => TestContext.Current.CancellationToken;

    private string StreamKey => $"{_prefix}:events:{{orders}}";

    private string DeadLetterKey => $"{_prefix}:events:{{orders}}:dead-letter";

    private IHost Build(Recorder recorder, Action<DomainEventsOptions>? configure = null) =>
        EventsHost.Build(recorder, o =>
        {
            o.Transport = DomainEventTransport.Redis;
            o.KeyPrefix = _prefix;
            configure?.Invoke(o);
        }, s => s.AddSingleton(redis.ConnectionAsync().GetAwaiter().GetResult()));

    private async Task<RedisValue[]> AddAsync(IDatabase db, int count)
    {
        var ids = new RedisValue[count];
        for (int i = 0; i < count; i++)
        {
            string json = $$$"""{"specversion":"1.0","id":"e-{{{i}}}","source":"/orders-service","type":"com.example.order.placed.v1","data":{"orderId":"o-{{{i}}}","total":1}}""";
            ids[i] = await db.StreamAddAsync(StreamKey, [new NameValueEntry("v", "1"), new NameValueEntry("event", json)]);
        }

        return ids;
    }

    [Fact]
    public async Task The_dead_letter_script_writes_nothing_for_an_entry_another_consumer_holds_or_acknowledged()
    {
        IDatabase db = (await redis.ConnectionAsync()).GetDatabase();
        RedisValue[] ids = await PendingForAsync(db, 2, "a");
        // Consumer b claimed both (a looked dead), acknowledged the first and still holds the second.
        await db.StreamClaimAsync(StreamKey, "billing", "b", 0, ids);
        await db.StreamAcknowledgeAsync(StreamKey, "billing", ids[0]);

        foreach (RedisValue id in ids)
        {
            RedisResult acked = await db.ScriptEvaluateAsync(RedisStreamStore.DeadLetterScript, [StreamKey, DeadLetterKey],
                ["billing", id, 1000, "{}", "{}", "a"]);
            Assert.Equal(0, (long)acked);
        }

        Assert.Equal(0, await db.StreamLengthAsync(DeadLetterKey));
        StreamPendingMessageInfo held = Assert.Single(await db.StreamPendingMessagesAsync(StreamKey, "billing", 10, RedisValue.Null));
        Assert.Equal("b", held.ConsumerName.ToString());
    }

    [Fact]
    public async Task Claims_follow_the_cursor_past_a_busy_head_of_the_pending_list()
    {
        using IHost host = Build(new Recorder(), o => o.ConsumeStreams = false);
        IStreamStore store = host.Services.GetRequiredService<IStreamStore>();
        IDatabase db = (await redis.ConnectionAsync()).GetDatabase();
        RedisValue[] ids = await AddAsync(db, 60);
        await store.EnsureGroupAsync("orders", "billing", Ct);
        Assert.Equal(60, (await store.ReadNewAsync("orders", "billing", "dead", 100, Ct)).Count);
        TimeSpan idle = TimeSpan.FromMilliseconds(300);
        await WaitIdleAsync(db, idle, 60);

        // A live consumer keeps the first 50 fresh; the last 10 belong to the dead one and are idle.
        await db.StreamClaimIdsOnlyAsync(StreamKey, "billing", "live", 0, ids[..50]);
        var claimed = new List<string>();
        for (int call = 0; call < 10 && claimed.Count == 0; call++)
        {
            // COUNT 1 lets XAUTOCLAIM look at 10 pending entries per call on Redis 7: the busy 50 take 5 calls.
            claimed.AddRange((await store.ClaimStaleAsync("orders", "billing", "claimer", idle, 1, Ct)).Select(e => e.Id));
        }

        Assert.NotEmpty(claimed);
        Assert.All(claimed, id => Assert.Contains(id, ids[50..].Select(v => v.ToString())));
    }

    [Fact]
    public async Task A_handler_running_longer_than_the_claim_idle_time_is_not_claimed_and_run_again_by_another_consumer()
    {
        var slow = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var recorder = new Recorder { Delay = ct => slow.Task.WaitAsync(ct) };
        void Options(DomainEventsOptions o, string name)
        {
            o.ConsumerName = name;
            o.ClaimIdleTime = TimeSpan.FromMilliseconds(600);
            o.ClaimInterval = TimeSpan.FromMilliseconds(50);
        }

        using IHost a = Build(recorder, o => Options(o, "billing-a"));
        using IHost b = Build(recorder, o => Options(o, "billing-b"));
        await a.StartAsync(Ct);
        await b.StartAsync(Ct);
        CloudEvent sent = await a.Services.GetRequiredService<IDomainEventPublisher>().PublishAsync(new OrderPlaced("slow", 1), cancellationToken: Ct);
        await EventsHost.WaitUntilAsync(() => recorder.Attempts.ContainsKey(sent.Id), Within, "a consumer started the handler");

        // The handler runs for five claim idle times while the other consumer looks for stale entries every 50 ms.
        IDatabase db = (await redis.ConnectionAsync()).GetDatabase();
        long until = TimeProvider.System.GetTimestamp() + TimeProvider.System.TimestampFrequency * 3;
        while (TimeProvider.System.GetTimestamp() < until)
        {
            Assert.Equal(1, recorder.Attempts[sent.Id]);
            await Task.Delay(50, Ct);
        }

        slow.SetResult();
        await EventsHost.WaitUntilAsync(() => recorder.Successes.ContainsKey(sent.Id), Within, "the handler finished");
        await a.StopAsync(Ct);
        await b.StopAsync(Ct);
        Assert.Equal(1, recorder.Attempts[sent.Id]);
        Assert.Equal(0, (await db.StreamPendingAsync(StreamKey, "billing")).PendingMessageCount);
    }

    [Fact]
    public async Task Trimmed_pending_entries_of_a_dead_consumer_are_dead_lettered_as_trimmed()
    {
        IDatabase db = (await redis.ConnectionAsync()).GetDatabase();
        RedisValue[] ids = await PendingForAsync(db, 3, "dead");
        await db.StreamTrimAsync(StreamKey, 0);

        using IHost host = Build(new Recorder(), o =>
        {
            o.ClaimIdleTime = TimeSpan.FromMilliseconds(100);
            o.ClaimInterval = TimeSpan.FromMilliseconds(20);
        });
        await host.StartAsync(Ct);
        IReadOnlyList<DeadLetter> letters = await EventsHost.WaitForDeadLettersAsync(host, 3, Within);
        await host.StopAsync(Ct);

        Assert.Equal(ids.Select(i => i.ToString()).Order(), letters.Select(l => l.EntryId).Order());
        Assert.All(letters, l => Assert.Equal("trimmed", l.Reason));
        Assert.All(letters, l => Assert.Null(l.Event));
        Assert.Equal(0, (await db.StreamPendingAsync(StreamKey, "billing")).PendingMessageCount);
    }

    [Fact]
    public async Task Trimmed_own_pending_entries_are_dead_lettered_as_trimmed_when_the_consumer_restarts()
    {
        IDatabase db = (await redis.ConnectionAsync()).GetDatabase();
        RedisValue[] ids = await PendingForAsync(db, 2, "billing-1");
        await db.StreamDeleteAsync(StreamKey, [ids[0]]);

        var recorder = new Recorder();
        using IHost host = Build(recorder, o =>
        {
            o.ConsumerName = "billing-1";
            o.ClaimIdleTime = TimeSpan.FromHours(1);
        });
        await host.StartAsync(Ct);
        DeadLetter letter = Assert.Single(await EventsHost.WaitForDeadLettersAsync(host, 1, Within));
        await EventsHost.WaitUntilAsync(() => recorder.Successes.ContainsKey("e-1"), Within, "the entry that was not trimmed was handled");
        await host.StopAsync(Ct);

        Assert.Equal(ids[0].ToString(), letter.EntryId);
        Assert.Equal("trimmed", letter.Reason);
    }

    /// <summary>Adds <paramref name="count"/> events and delivers them to <paramref name="consumer"/> of group billing.</summary>
    private async Task<RedisValue[]> PendingForAsync(IDatabase db, int count, string consumer)
    {
        RedisValue[] ids = await AddAsync(db, count);
        await db.StreamCreateConsumerGroupAsync(StreamKey, "billing", StreamPosition.Beginning);
        await db.StreamReadGroupAsync(StreamKey, "billing", consumer, StreamPosition.NewMessages, 10);
        return ids;
    }

    /// <summary>Waits until <paramref name="count"/> pending entries are idle at least <paramref name="idle"/> by the server's clock.</summary>
    private async Task WaitIdleAsync(IDatabase db, TimeSpan idle, int count)
    {
        using var deadline = new CancellationTokenSource(Within);
        while (true)
        {
            var reply = (RedisResult[])(await db.ExecuteAsync("XPENDING", StreamKey, "billing", "IDLE", (long)idle.TotalMilliseconds, "-", "+", count))!;
            if (reply.Length >= count)
            {
                return;
            }

            Assert.False(deadline.IsCancellationRequested, $"only {reply.Length} of {count} entries became idle");
            await Task.Delay(20, Ct);
        }
    }
}
