using System.Diagnostics;
using System.Text.Json;
using Lilith.DistributedLock;
using Microsoft.Extensions.DependencyInjection;

namespace Lilith.Conformance.Tests;

/// <summary>schema/distributed-lock.md from both sides: one lock name, its holder key, fencing counter and released channel.</summary>
public sealed class LockConformanceTests(RedisFixture redis) : ConformanceScenario(redis)
{
    // A waiter's fallback poll doubles from 10 ms; after 5.5 s of waiting its next poll is about 4.7 s away
    // (10 ms * 2^9 = 5.1 s pause), so taking the lock within 2.5 s of a release means the release message woke it
    // (the C# waiter cannot say what woke it; the sibling's says so in its result).
    private static readonly TimeSpan PollGrowth = TimeSpan.FromSeconds(5.5);
    private static readonly TimeSpan WokenWithin = TimeSpan.FromSeconds(2.5);

    [Theory]
    [MemberData(nameof(Sibling.Languages), MemberType = typeof(Sibling))]
    public async Task CSharp_holds_the_lock_the_sibling_cannot_take_it_then_takes_it_after_release_with_a_larger_fence(string language)
    {
        Sibling sibling = await SiblingAsync(language);
        await using ServiceProvider services = await LocksAsync(sibling.Prefix);
        IDistributedLockProvider locks = services.GetRequiredService<IDistributedLockProvider>();

        IDistributedLockHandle held = await locks.AcquireAsync("orders", cancellationToken: Ct);
        JsonElement refused = await sibling.RunAsync("lock-acquire", "--name", "orders", "--ttl", "5000");
        Assert.False(refused.GetProperty("acquired").GetBoolean());
        Assert.InRange(refused.GetProperty("pttl").GetInt64(), 1, 30_000);

        // The sibling waits as the document says, subscribed to the released channel; its fallback poll has grown past
        // 5 s when C# releases, and it reports what woke the try that won: C#'s release message.
        using Sibling.Running waiting = await sibling.StartAsync("lock-acquire", "--name", "orders", "--ttl", "30000", "--wait-ms", "30000", "--max-poll-ms", "60000");
        await Task.Delay(PollGrowth, Ct);
        Assert.Equal(LockReleaseResult.Released, await held.ReleaseAsync(Ct));
        JsonElement taken = await waiting.ResultAsync();
        Assert.Equal("release-message", taken.GetProperty("wokenBy").GetString());
        Assert.True(taken.GetProperty("acquired").GetBoolean(), taken.ToString());
        Assert.True(taken.GetProperty("fence").GetInt64() > held.FencingToken, $"sibling fence {taken} after C# fence {held.FencingToken}");

        // While the sibling holds it, C# cannot take it; the sibling's renew and release work on the same key.
        string token = taken.GetProperty("token").GetString()!;
        Assert.Null(await locks.TryAcquireAsync("orders", cancellationToken: Ct));
        Assert.True((await sibling.RunAsync("lock-renew", "--name", "orders", "--token", token, "--ttl", "30000")).GetProperty("renewed").GetBoolean());
        Assert.True((await sibling.RunAsync("lock-release", "--name", "orders", "--token", token)).GetProperty("released").GetBoolean());
        await using IDistributedLockHandle? after = await locks.TryAcquireAsync("orders", cancellationToken: Ct);
        Assert.NotNull(after);
        Assert.True(after.FencingToken > taken.GetProperty("fence").GetInt64());
    }

    [Theory]
    [MemberData(nameof(Sibling.Languages), MemberType = typeof(Sibling))]
    public async Task Sibling_holds_the_lock_CSharp_waits_and_is_woken_by_the_siblings_release(string language)
    {
        Sibling sibling = await SiblingAsync(language);
        // A fallback poll far longer than the test's bound: only the release message can wake the C# waiter in time.
        await using ServiceProvider services = await LocksAsync(sibling.Prefix, TimeSpan.FromSeconds(50));
        IDistributedLockProvider locks = services.GetRequiredService<IDistributedLockProvider>();

        JsonElement held = await sibling.RunAsync("lock-acquire", "--name", "invoices", "--ttl", "60000");
        Assert.True(held.GetProperty("acquired").GetBoolean());
        Assert.Null(await locks.TryAcquireAsync("invoices", cancellationToken: Ct));

        Task<IDistributedLockHandle> waiter = locks.AcquireAsync("invoices", TimeSpan.FromSeconds(40), cancellationToken: Ct).AsTask();
        await Task.Delay(PollGrowth, Ct); // the C# waiter's fallback poll has grown past 5 s
        Assert.False(waiter.IsCompleted);
        string token = held.GetProperty("token").GetString()!;
        Assert.True((await sibling.RunAsync("lock-release", "--name", "invoices", "--token", token)).GetProperty("released").GetBoolean());
        var released = Stopwatch.StartNew();
        await using IDistributedLockHandle handle = await waiter.WaitAsync(TimeSpan.FromSeconds(20), Ct);
        Assert.True(released.Elapsed < WokenWithin, $"C# took the lock {released.Elapsed.TotalMilliseconds:0} ms after the sibling's release: it was not woken by the release message");
        Assert.True(handle.FencingToken > held.GetProperty("fence").GetInt64());

        // The sibling's release of a token that no longer holds the lock deletes nothing.
        Assert.False((await sibling.RunAsync("lock-release", "--name", "invoices", "--token", token)).GetProperty("released").GetBoolean());
        Assert.False(handle.LostToken.IsCancellationRequested);
        Assert.True(await handle.ExtendAsync(Ct));
    }

    private async Task<ServiceProvider> LocksAsync(string prefix, TimeSpan? maxPoll = null)
    {
        var services = new ServiceCollection();
        services.AddSingleton(await Redis.NewConnectionAsync());
        services.AddDistributedLock(o =>
        {
            o.Backend = DistributedLockBackend.Redis;
            o.KeyPrefix = prefix;
            o.MaxPollInterval = maxPoll ?? TimeSpan.FromMilliseconds(500);
        });
        return services.BuildServiceProvider();
    }
}
