using Microsoft.Extensions.Time.Testing;
using Lilith.DistributedLock.Internal;

namespace Lilith.DistributedLock.Tests;

/// <summary>
/// What every backend must do. Each test gets two providers over the same store, as two processes would
/// have; the sealed subclasses run the suite on Redis and in memory.
/// </summary>
public abstract partial class LockContractTests
{
    private protected static readonly LockProviderSettings Defaults = new(TimeSpan.FromSeconds(30), AutoRenew: true, MaxPollInterval: TimeSpan.FromMilliseconds(500));

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>
    /// Two providers over one store (two connections for Redis). <paramref name="providerClock"/> drives the providers'
    /// poll pauses and lease timers (the store keeps real time); a clock that never moves leaves the release
    /// notification as the only way a waiter can be woken.
    /// </summary>
    private protected abstract Task<(IDistributedLockProvider First, IDistributedLockProvider Second)> CreatePairAsync(LockProviderSettings settings, TimeProvider? providerClock = null);

    /// <summary>A provider clock that stands still: no poll pause and no lease timer of the providers ever ends.</summary>
    private protected static TimeProvider PollsNeverFire() => new FakeTimeProvider();

    /// <summary>A wait that a loaded machine keeps but no poll or lease timer explains.</summary>
    private protected static readonly TimeSpan NotificationWithin = TimeSpan.FromSeconds(10);

    /// <summary>Deletes the lock behind the holder's back, as an operator or a failover would.</summary>
    protected abstract Task DeleteExternallyAsync(string name);

    /// <summary>Deletes a reader-writer lock's readers (or its writer) behind the holders' backs.</summary>
    protected abstract Task DeleteReaderWriterExternallyAsync(string name, bool writer);

    [Fact]
    public async Task A_held_lock_excludes_others_until_released()
    {
        var (first, second) = await CreatePairAsync(Defaults);
        IDistributedLockHandle handle = await first.AcquireAsync("orders", TimeSpan.Zero, cancellationToken: Ct);

        Assert.Equal("orders", handle.Name);
        Assert.Null(await second.TryAcquireAsync("orders", cancellationToken: Ct));
        Assert.Null(await first.TryAcquireAsync("orders", TimeSpan.FromMilliseconds(50), cancellationToken: Ct));
        Assert.Equal(LockReleaseResult.Released, await handle.ReleaseAsync(Ct));
        Assert.Equal(LockReleaseResult.Released, await handle.ReleaseAsync(Ct));

        await using IDistributedLockHandle? next = await second.TryAcquireAsync("orders", cancellationToken: Ct);
        Assert.NotNull(next);
        Assert.False(next.LostToken.IsCancellationRequested);
        Assert.False(handle.LostToken.IsCancellationRequested);
    }

    [Fact]
    public async Task Fencing_tokens_increase_with_every_grant_per_name()
    {
        var (first, second) = await CreatePairAsync(Defaults);
        var tokens = new List<long>();
        for (int i = 0; i < 6; i++)
        {
            await using IDistributedLockHandle handle = await (i % 2 == 0 ? first : second).AcquireAsync("fenced", TimeSpan.FromSeconds(5), cancellationToken: Ct);
            tokens.Add(handle.FencingToken);
        }

        await using IDistributedLockHandle other = await first.AcquireAsync("other-name", TimeSpan.Zero, cancellationToken: Ct);
        Assert.True(tokens[0] >= 1);
        Assert.Equal(tokens.Order().Distinct(), tokens);
        Assert.NotNull(other); // another name is another lock: granted at once
    }

    [Fact]
    public async Task Acquire_times_out_with_a_message_naming_the_lock()
    {
        var (first, second) = await CreatePairAsync(Defaults);
        await using IDistributedLockHandle held = await first.AcquireAsync("busy", cancellationToken: Ct);

        TimeoutException error = await Assert.ThrowsAsync<TimeoutException>(async () => await second.AcquireAsync("busy", TimeSpan.FromMilliseconds(120), cancellationToken: Ct));
        Assert.Contains("'busy'", error.Message, StringComparison.Ordinal);
        Assert.Contains("120 ms", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_waiter_is_handed_the_lock_by_the_release_notification_not_the_poll()
    {
        // The providers' clock stands still, so the waiter's poll pause never ends: only the notification can hand it over.
        var (first, second) = await CreatePairAsync(Defaults, PollsNeverFire());
        IDistributedLockHandle held = await first.AcquireAsync("handoff", cancellationToken: Ct);
        Task<IDistributedLockHandle> waiter = second.AcquireAsync("handoff", TimeSpan.FromSeconds(10), cancellationToken: Ct).AsTask();
        await Task.Delay(TimeSpan.FromMilliseconds(700), Ct);
        Assert.False(waiter.IsCompleted);

        await held.ReleaseAsync(Ct);
        await using IDistributedLockHandle next = await waiter.WaitAsync(NotificationWithin, Ct);

        Assert.True(next.FencingToken > held.FencingToken);
    }

    [Fact]
    public async Task An_abandoned_handle_frees_the_lock_when_its_lease_ends()
    {
        var (first, second) = await CreatePairAsync(Defaults);
        // No renewal and never released: a holder that crashed.
        // Counted from before the grant, so the lease (which starts later, on the server) cannot end before a second has passed.
        long start = TimeProvider.System.GetTimestamp();
        IDistributedLockHandle abandoned = await first.AcquireAsync("crashed", options: new LockAcquireOptions { Ttl = TimeSpan.FromSeconds(1), AutoRenew = false }, cancellationToken: Ct);

        await using IDistributedLockHandle next = await second.AcquireAsync("crashed", TimeSpan.FromSeconds(10), cancellationToken: Ct);
        TimeSpan waited = TimeProvider.System.GetElapsedTime(start);

        Assert.True(waited >= TimeSpan.FromSeconds(1), $"granted {waited.TotalMilliseconds} ms after a 1 s lease began");
        Assert.True(next.FencingToken > abandoned.FencingToken);
        // The holder's watch fires on its own timer, which can run a moment after the waiter's try at the lease end.
        Assert.True(await Eventually.TrueWithinAsync(() => abandoned.LostToken.IsCancellationRequested, TimeSpan.FromSeconds(1)), "a lease that ran out without renewal signals loss");
    }

    [Fact]
    public async Task Auto_renewal_keeps_the_lock_past_its_ttl()
    {
        var (first, second) = await CreatePairAsync(Defaults);
        await using IDistributedLockHandle handle = await first.AcquireAsync("long-job", options: new LockAcquireOptions { Ttl = TimeSpan.FromMilliseconds(600) }, cancellationToken: Ct);
        await Task.Delay(TimeSpan.FromMilliseconds(1200), Ct);

        Assert.Null(await second.TryAcquireAsync("long-job", cancellationToken: Ct));
        Assert.False(handle.LostToken.IsCancellationRequested);
        Assert.True(await handle.ExtendAsync(Ct));
    }

    [Fact]
    public async Task Deleting_the_lock_from_outside_fires_the_lost_token_within_one_renewal_period()
    {
        var (first, _) = await CreatePairAsync(Defaults);
        IDistributedLockHandle handle = await first.AcquireAsync("deleted", options: new LockAcquireOptions { Ttl = DeletionTtl }, cancellationToken: Ct);

        await DeleteExternallyAsync("deleted");
        TimeSpan? firedAfter = await Eventually.FiresWithinAsync(handle.LostToken, 2 * DeletionTtl);

        AssertLostByRenewalNotLeaseEnd(firedAfter);
        Assert.Equal(LockReleaseResult.NotHeld, await handle.ReleaseAsync(Ct));
        Assert.False(await handle.ExtendAsync(Ct));
        await handle.DisposeAsync();
    }

    [Fact]
    public async Task Release_after_expiry_says_not_held_and_leaves_the_new_holder_intact()
    {
        var (first, second) = await CreatePairAsync(Defaults);
        IDistributedLockHandle expired = await first.AcquireAsync("expiring", options: new LockAcquireOptions { Ttl = TimeSpan.FromMilliseconds(200), AutoRenew = false }, cancellationToken: Ct);
        IDistributedLockHandle newHolder = await second.AcquireAsync("expiring", TimeSpan.FromSeconds(3), cancellationToken: Ct);

        Assert.Equal(LockReleaseResult.NotHeld, await expired.ReleaseAsync(Ct));
        await expired.DisposeAsync();

        Assert.Null(await first.TryAcquireAsync("expiring", cancellationToken: Ct));
        Assert.False(newHolder.LostToken.IsCancellationRequested);
        Assert.True(await newHolder.ExtendAsync(Ct));
        Assert.Equal(LockReleaseResult.Released, await newHolder.ReleaseAsync(Ct));
    }

    [Fact]
    public async Task A_cancelled_wait_throws_and_leaves_the_lock_to_others()
    {
        var (first, second) = await CreatePairAsync(Defaults);
        IDistributedLockHandle held = await first.AcquireAsync("cancel", cancellationToken: Ct);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cancel.CancelAfter(TimeSpan.FromMilliseconds(100));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await second.AcquireAsync("cancel", cancellationToken: cancel.Token));
        await held.DisposeAsync();
        await using IDistributedLockHandle? next = await second.TryAcquireAsync("cancel", cancellationToken: Ct);
        Assert.NotNull(next);
    }

    [Theory]
    [InlineData("a{b}")]
    [InlineData("")]
    [InlineData("tab\there")]
    public async Task Names_that_would_break_the_key_schema_are_refused(string name)
    {
        var (first, _) = await CreatePairAsync(Defaults);
        ArgumentException error = await Assert.ThrowsAsync<ArgumentException>(async () => await first.TryAcquireAsync(name, cancellationToken: Ct));
        Assert.Contains("lock name", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_timeouts_and_ttls_are_refused_with_the_value()
    {
        var (first, _) = await CreatePairAsync(Defaults);
        ArgumentOutOfRangeException timeout = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await first.AcquireAsync("x", TimeSpan.FromSeconds(-2), cancellationToken: Ct));
        Assert.Contains("-00:00:02", timeout.Message, StringComparison.Ordinal);
        ArgumentOutOfRangeException ttl = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await first.AcquireAsync("x", options: new LockAcquireOptions { Ttl = TimeSpan.FromMilliseconds(1) }, cancellationToken: Ct));
        Assert.Contains("Ttl", ttl.Message, StringComparison.Ordinal);
    }
    [Fact]
    public async Task A_semaphore_admits_max_count_holders_and_hands_a_freed_slot_to_a_waiter()
    {
        var (first, second) = await CreatePairAsync(Defaults, PollsNeverFire());
        var a = (IDistributedSemaphoreProvider)first;
        var b = (IDistributedSemaphoreProvider)second;
        IDistributedLockHandle one = await a.AcquireSemaphoreAsync("pool", 2, TimeSpan.Zero, cancellationToken: Ct);
        IDistributedLockHandle two = await b.AcquireSemaphoreAsync("pool", 2, TimeSpan.Zero, cancellationToken: Ct);
        Assert.Null(await a.TryAcquireSemaphoreAsync("pool", 2, cancellationToken: Ct));

        Task<IDistributedLockHandle> waiter = b.AcquireSemaphoreAsync("pool", 2, TimeSpan.FromSeconds(10), cancellationToken: Ct).AsTask();
        await Task.Delay(TimeSpan.FromMilliseconds(700), Ct);
        Assert.False(waiter.IsCompleted);
        Assert.Equal(LockReleaseResult.Released, await one.ReleaseAsync(Ct));
        await using IDistributedLockHandle three = await waiter.WaitAsync(NotificationWithin, Ct); // the providers' polls never fire
        Assert.True(one.FencingToken < two.FencingToken && two.FencingToken < three.FencingToken, $"tokens {one.FencingToken}, {two.FencingToken}, {three.FencingToken} in grant order");
        Assert.Null(await a.TryAcquireSemaphoreAsync("pool", 2, cancellationToken: Ct));
        await using IDistributedLockHandle sameNameLock = await first.AcquireAsync("pool", TimeSpan.Zero, cancellationToken: Ct); // a lock of the same name is another lock
        Assert.Equal(LockReleaseResult.Released, await two.ReleaseAsync(Ct));
        Assert.Equal(LockReleaseResult.Released, await two.ReleaseAsync(Ct));
    }

    [Fact]
    public async Task A_semaphore_slot_whose_lease_ends_is_freed_and_its_release_says_not_held()
    {
        var (first, second) = await CreatePairAsync(Defaults);
        var a = (IDistributedSemaphoreProvider)first;
        IDistributedLockHandle abandoned = await a.AcquireSemaphoreAsync("slots", 1, options: new LockAcquireOptions { Ttl = TimeSpan.FromMilliseconds(300), AutoRenew = false }, cancellationToken: Ct);
        await using IDistributedLockHandle renewed = await ((IDistributedSemaphoreProvider)second).AcquireSemaphoreAsync("slots", 2, options: new LockAcquireOptions { Ttl = TimeSpan.FromMilliseconds(600) }, cancellationToken: Ct);

        await using IDistributedLockHandle next = await a.AcquireSemaphoreAsync("slots", 2, TimeSpan.FromSeconds(3), cancellationToken: Ct);
        Assert.True(abandoned.LostToken.IsCancellationRequested || await Eventually.TrueWithinAsync(() => abandoned.LostToken.IsCancellationRequested, TimeSpan.FromSeconds(1)));
        Assert.Equal(LockReleaseResult.NotHeld, await abandoned.ReleaseAsync(Ct));
        await Task.Delay(TimeSpan.FromMilliseconds(700), Ct);
        Assert.False(renewed.LostToken.IsCancellationRequested, "auto-renewal keeps a slot past its TTL");
        Assert.True(await renewed.ExtendAsync(Ct));
        Assert.True(next.FencingToken > renewed.FencingToken);
    }

    [Fact]
    public async Task Semaphore_contention_never_admits_more_than_max_count()
    {
        var (first, second) = await CreatePairAsync(Defaults);
        const int Grants = 300, MaxCount = 3;
        int issued = 0, granted = 0, inside = 0, most = 0;
        var full = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        async Task WorkerAsync(IDistributedSemaphoreProvider semaphores)
        {
            while (Interlocked.Increment(ref issued) <= Grants)
            {
                await using IDistributedLockHandle slot = await semaphores.AcquireSemaphoreAsync("busy-pool", MaxCount, TimeSpan.FromSeconds(30), cancellationToken: Ct);
                int now = Interlocked.Increment(ref inside);
                int seen;
                while ((seen = Volatile.Read(ref most)) < now && Interlocked.CompareExchange(ref most, now, seen) != seen)
                {
                }

                if (now == MaxCount)
                {
                    full.TrySetResult();
                }

                // The first MaxCount grants keep their slots until MaxCount holders are inside at once. A grant that
                // completes synchronously (in memory) plus a yield gives no overlap by itself: on a busy thread pool one
                // worker can take every grant before another starts, so overlap must be waited for, not hoped for.
                if (Interlocked.Increment(ref granted) <= MaxCount)
                {
                    Task reached = await Task.WhenAny(full.Task, Task.Delay(TimeSpan.FromSeconds(10), Ct));
                    Assert.True(reached == full.Task, $"{MaxCount} holders were never inside at once within 10 s (most {Volatile.Read(ref most)})");
                }

                await Task.Yield();
                Interlocked.Decrement(ref inside);
            }
        }

        await Task.WhenAll(Enumerable.Range(0, 12).Select(i => Task.Run(() => WorkerAsync((IDistributedSemaphoreProvider)(i % 2 == 0 ? first : second)), Ct))).WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.Equal(MaxCount, most);
        ArgumentOutOfRangeException error = Assert.Throws<ArgumentOutOfRangeException>(() => ((IDistributedSemaphoreProvider)first).TryAcquireSemaphoreAsync("busy-pool", 0, cancellationToken: Ct));
        Assert.Contains("maxCount 0", error.Message, StringComparison.Ordinal);
    }

    /// <summary>The lease of the deletion tests: its renewal period (a third) is well inside it.</summary>
    private protected static readonly TimeSpan DeletionTtl = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Loss seen by the first renewal after the deletion (a third of <see cref="DeletionTtl"/>), not by the lease running out:
    /// a margin of a third of the lease for a loaded machine, and still before the lease would end by itself.
    /// </summary>
    private protected static void AssertLostByRenewalNotLeaseEnd(TimeSpan? firedAfter)
    {
        Assert.NotNull(firedAfter);
        Assert.True(firedAfter < DeletionTtl * 2 / 3, $"lost after {firedAfter?.TotalMilliseconds} ms; the renewal period is {(DeletionTtl / 3).TotalMilliseconds} ms and the lease {DeletionTtl.TotalMilliseconds} ms");
    }
}
