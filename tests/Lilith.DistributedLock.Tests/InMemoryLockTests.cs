using Lilith.DistributedLock.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Lilith.DistributedLock.Tests;

/// <summary>The contract on the in-memory backend.</summary>
public sealed class InMemoryLockContractTests : LockContractTests
{
    private readonly InMemoryLockBackend _backend = new(TimeProvider.System);

    private protected override Task<(IDistributedLockProvider First, IDistributedLockProvider Second)> CreatePairAsync(LockProviderSettings settings) =>
        Task.FromResult<(IDistributedLockProvider, IDistributedLockProvider)>((
            new LockProvider(_backend, settings, TimeProvider.System, NullLogger.Instance),
            new LockProvider(_backend, settings, TimeProvider.System, NullLogger.Instance)));

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
        Assert.Equal(2, next.FencingToken);
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
}
