using Lilith.DistributedLock.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Lilith.DistributedLock.Tests;

/// <summary>The contract on the in-memory backend.</summary>
public sealed class InMemoryLockContractTests : LockContractTests
{
    private readonly InMemoryLockBackend _backend = new(TimeProvider.System);

    private protected override Task<(IDistributedLockProvider First, IDistributedLockProvider Second)> CreatePairAsync(LockProviderSettings settings, TimeProvider? providerClock = null) =>
        Task.FromResult<(IDistributedLockProvider, IDistributedLockProvider)>((
            new LockProvider(_backend, settings, providerClock ?? TimeProvider.System, NullLogger.Instance),
            new LockProvider(_backend, settings, providerClock ?? TimeProvider.System, NullLogger.Instance)));

    protected override Task DeleteExternallyAsync(string name)
    {
        Assert.True(_backend.DeleteExternally(name));
        return Task.CompletedTask;
    }

    protected override Task DeleteReaderWriterExternallyAsync(string name, bool writer)
    {
        Assert.True(((InMemoryLockBackend)_backend.ForReaderWriter(writer, TimeSpan.FromSeconds(1))).DeleteExternally(name));
        return Task.CompletedTask;
    }
}

/// <summary>Lease logic on a fake clock.</summary>
public sealed class InMemoryLeaseClockTests
{
    [Fact]
    public async Task A_lease_without_renewal_ends_on_the_clock_and_signals_loss()
    {
        var clock = new FakeTimeProvider();
        var locks = new LockProvider(new InMemoryLockBackend(clock), new(TimeSpan.FromSeconds(10), AutoRenew: false, TimeSpan.FromMilliseconds(500)), clock, NullLogger.Instance);
        IDistributedLockHandle handle = await locks.AcquireAsync("clocked", TimeSpan.Zero, cancellationToken: TestContext.Current.CancellationToken);

        clock.Advance(TimeSpan.FromSeconds(9));
        Assert.False(handle.LostToken.IsCancellationRequested);
        Assert.Null(await locks.TryAcquireAsync("clocked", cancellationToken: TestContext.Current.CancellationToken));

        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.True(await Eventually.TrueWithinAsync(() => handle.LostToken.IsCancellationRequested, TimeSpan.FromSeconds(2)));
        IDistributedLockHandle? next = await locks.TryAcquireAsync("clocked", cancellationToken: TestContext.Current.CancellationToken);
        Assert.NotNull(next);
        Assert.True(next.FencingToken > handle.FencingToken);
        Assert.Equal(LockReleaseResult.NotHeld, await handle.ReleaseAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Renewal_runs_every_third_of_the_ttl_on_the_clock()
    {
        var clock = new FakeTimeProvider();
        var locks = new LockProvider(new InMemoryLockBackend(clock), new(TimeSpan.FromSeconds(9), AutoRenew: true, TimeSpan.FromMilliseconds(500)), clock, NullLogger.Instance);
        IDistributedLockHandle handle = await locks.AcquireAsync("renewed", TimeSpan.Zero, cancellationToken: TestContext.Current.CancellationToken);

        // 30 s of fake time in 3 s steps: each step is one renewal period, so the 9 s lease never runs out.
        for (int i = 0; i < 10; i++)
        {
            clock.Advance(TimeSpan.FromSeconds(3));
            int expected = i + 1;
            Assert.True(await Eventually.TrueWithinAsync(() => ((LockHandle)handle).Renewals == expected, TimeSpan.FromSeconds(2)), $"renewal {expected} did not run");
        }

        Assert.False(handle.LostToken.IsCancellationRequested);
        Assert.Null(await locks.TryAcquireAsync("renewed", cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal(LockReleaseResult.Released, await handle.ReleaseAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task One_timer_renews_handles_of_different_ttls_each_on_its_own_period()
    {
        var clock = new FakeTimeProvider();
        var locks = new LockProvider(new InMemoryLockBackend(clock), new(TimeSpan.FromSeconds(30), AutoRenew: true, TimeSpan.FromMilliseconds(500)), clock, NullLogger.Instance);
        var slow = (LockHandle)await locks.AcquireAsync("slow", TimeSpan.Zero, cancellationToken: TestContext.Current.CancellationToken);
        var fast = (LockHandle)await locks.AcquireAsync("fast", TimeSpan.Zero, new LockAcquireOptions { Ttl = TimeSpan.FromMilliseconds(300) }, TestContext.Current.CancellationToken);

        // 3 s in 25 ms steps: the 300 ms lease (renewed every 100 ms) must never run out; the 30 s one is not yet due.
        for (int step = 0; step < 120; step++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(25));
            await WaitForRenewalsToSettleAsync();
        }

        Assert.False(fast.LostToken.IsCancellationRequested);
        Assert.InRange(fast.Renewals, 24, 30);
        Assert.Equal(0, slow.Renewals);
        Assert.False(slow.LostToken.IsCancellationRequested);

        // The fake clock jumps: release the short lease first, which a jump of seconds would outlast.
        Assert.Equal(LockReleaseResult.Released, await fast.ReleaseAsync(TestContext.Current.CancellationToken));
        clock.Advance(TimeSpan.FromSeconds(8));
        Assert.True(await Eventually.TrueWithinAsync(() => slow.Renewals == 1, TimeSpan.FromSeconds(2)), "the 30 s lease was not renewed after 10 s");
        Assert.Equal(LockReleaseResult.Released, await slow.ReleaseAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task The_timer_stops_when_nothing_is_held_and_starts_again_with_the_next_grant()
    {
        var clock = new FakeTimeProvider();
        var locks = new LockProvider(new InMemoryLockBackend(clock), new(TimeSpan.FromSeconds(9), AutoRenew: true, TimeSpan.FromMilliseconds(500)), clock, NullLogger.Instance);
        IDistributedLockHandle first = await locks.AcquireAsync("idle", TimeSpan.Zero, cancellationToken: TestContext.Current.CancellationToken);
        await first.ReleaseAsync(TestContext.Current.CancellationToken);
        clock.Advance(TimeSpan.FromSeconds(20));

        var second = (LockHandle)await locks.AcquireAsync("idle", TimeSpan.Zero, cancellationToken: TestContext.Current.CancellationToken);
        for (int i = 1; i <= 3; i++)
        {
            clock.Advance(TimeSpan.FromSeconds(3));
            int expected = i;
            Assert.True(await Eventually.TrueWithinAsync(() => second.Renewals == expected, TimeSpan.FromSeconds(2)), $"renewal {expected} did not run");
        }

        Assert.False(second.LostToken.IsCancellationRequested);
    }

    [Fact]
    public async Task Disposing_the_provider_tells_held_handles_that_nothing_renews_them()
    {
        var clock = new FakeTimeProvider();
        var locks = new LockProvider(new InMemoryLockBackend(clock), new(TimeSpan.FromSeconds(9), AutoRenew: true, TimeSpan.FromMilliseconds(500)), clock, NullLogger.Instance);
        IDistributedLockHandle held = await locks.AcquireAsync("held", TimeSpan.Zero, cancellationToken: TestContext.Current.CancellationToken);
        IDistributedLockHandle released = await locks.AcquireAsync("released", TimeSpan.Zero, cancellationToken: TestContext.Current.CancellationToken);
        await released.ReleaseAsync(TestContext.Current.CancellationToken);

        await locks.DisposeAsync();

        Assert.True(held.LostToken.IsCancellationRequested);
        Assert.False(released.LostToken.IsCancellationRequested);
    }

    /// <summary>Renewals on the in-memory backend complete at once, but on the thread pool: give them a moment.</summary>
    private static Task WaitForRenewalsToSettleAsync() => Task.Delay(2, TestContext.Current.CancellationToken);
}
