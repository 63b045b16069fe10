using Lilith.DistributedLock.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Lilith.DistributedLock.Tests;

/// <summary>
/// The holder's lease clock when a renewal never answers, on a fake clock: the lost signal must come before the
/// store's own lease can end (from the moment the last successful renewal was sent), never at it or after it.
/// </summary>
public sealed class HungRenewalClockTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_hung_renewal_does_not_delay_the_lost_signal_past_the_lease_minus_the_safety_margin()
    {
        var clock = new FakeTimeProvider();
        var backend = new HangingRenewals(new InMemoryLockBackend(clock));
        var locks = new LockProvider(backend, new(TimeSpan.FromSeconds(9), AutoRenew: true, TimeSpan.FromMilliseconds(500)), clock, NullLogger.Instance);
        IDistributedLockHandle handle = await locks.AcquireAsync("hung", TimeSpan.Zero, cancellationToken: Ct);

        // The first renewal (at 3 s) succeeds; from then on renewals are sent and never answered.
        clock.Advance(TimeSpan.FromSeconds(3));
        Assert.True(await Eventually.TrueWithinAsync(() => ((LockHandle)handle).Renewals == 1, TimeSpan.FromSeconds(2)));
        backend.Hang = true;

        // The store's lease runs to 3 s + 9 s = 12 s. With the margin (9 s / 20 = 450 ms) the holder gives up at 11.55 s.
        for (int step = 0; step < 17; step++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(500)); // to 11.5 s, one renewal tick at a time
        }

        Assert.False(await Eventually.TrueWithinAsync(() => handle.LostToken.IsCancellationRequested, TimeSpan.FromMilliseconds(200)), "lost before lease - margin");
        clock.Advance(TimeSpan.FromMilliseconds(100)); // 11.6 s: past lease - margin, still before the store's lease ends
        Assert.True(await Eventually.TrueWithinAsync(() => handle.LostToken.IsCancellationRequested, TimeSpan.FromSeconds(2)),
            "LostToken had not fired 400 ms before the store's lease ends, with a renewal in flight");
        Assert.True(backend.HungRenewals > 0);
    }

    /// <summary>The in-memory store, with renewals that are sent and never answered while <see cref="Hang"/> is set.</summary>
    private sealed class HangingRenewals(ILockBackend inner) : ILockBackend
    {
        private int _hungRenewals;

        public bool Hang { get; set; }

        public int HungRenewals => Volatile.Read(ref _hungRenewals);

        public string Description => inner.Description;

        public LockKind Kind => inner.Kind;

        public ValueTask<AcquireAttempt> TryAcquireAsync(string name, string holder, TimeSpan ttl, bool waiting, CancellationToken cancellationToken) =>
            inner.TryAcquireAsync(name, holder, ttl, waiting, cancellationToken);

        public async ValueTask<bool> RenewAsync(string name, string holder, TimeSpan ttl, CancellationToken cancellationToken)
        {
            if (!Hang)
            {
                return await inner.RenewAsync(name, holder, ttl, cancellationToken);
            }

            Interlocked.Increment(ref _hungRenewals);
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return false;
        }

        public ValueTask<bool> ReleaseAsync(string name, string holder, CancellationToken cancellationToken) => inner.ReleaseAsync(name, holder, cancellationToken);

        public ValueTask WithdrawAsync(string name, string holder, CancellationToken cancellationToken) => inner.WithdrawAsync(name, holder, cancellationToken);

        public ValueTask<IAsyncDisposable> SubscribeAsync(string name, ReleaseWaiter waiter, CancellationToken cancellationToken) => inner.SubscribeAsync(name, waiter, cancellationToken);

        public ILockBackend ForSemaphore(int maxCount) => inner.ForSemaphore(maxCount);

        public ILockBackend ForReaderWriter(bool write, TimeSpan intentLease) => inner.ForReaderWriter(write, intentLease);

        public bool IsUnavailable(Exception error) => inner.IsUnavailable(error);

        public bool MeansLeaseLost(Exception error) => inner.MeansLeaseLost(error);


        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
