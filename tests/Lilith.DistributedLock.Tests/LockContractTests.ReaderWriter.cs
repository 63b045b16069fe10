using Lilith.DistributedLock.Internal;

namespace Lilith.DistributedLock.Tests;

/// <summary>The reader-writer lock's part of the contract, on both backends.</summary>
public abstract partial class LockContractTests
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Readers_share_a_reader_writer_lock_and_a_writer_excludes_readers_and_writers()
    {
        var (first, second) = await ReaderWriterPairAsync(Defaults);
        IDistributedLockHandle? reader1 = await first.TryAcquireReadLockAsync("catalog", cancellationToken: Ct);
        IDistributedLockHandle? reader2 = await second.TryAcquireReadLockAsync("catalog", cancellationToken: Ct);
        Assert.NotNull(reader1);
        Assert.NotNull(reader2);
        Assert.Equal("catalog", reader1.Name);
        Assert.Equal(reader1.FencingToken, reader2.FencingToken); // readers of one interval share the read token
        Assert.Null(await second.TryAcquireWriteLockAsync("catalog", cancellationToken: Ct));

        Assert.Equal(LockReleaseResult.Released, await reader1.ReleaseAsync(Ct));
        Assert.Null(await first.TryAcquireWriteLockAsync("catalog", cancellationToken: Ct));
        Assert.Equal(LockReleaseResult.Released, await reader2.ReleaseAsync(Ct));

        IDistributedLockHandle? writer = await first.TryAcquireWriteLockAsync("catalog", cancellationToken: Ct);
        Assert.NotNull(writer);
        Assert.True(writer.FencingToken > reader1.FencingToken, $"write token {writer.FencingToken} after read token {reader1.FencingToken}");
        Assert.Null(await second.TryAcquireReadLockAsync("catalog", cancellationToken: Ct));
        Assert.Null(await second.TryAcquireWriteLockAsync("catalog", TimeSpan.FromMilliseconds(50), cancellationToken: Ct));
        Assert.Null(await first.TryAcquireReadLockAsync("catalog", TimeSpan.FromMilliseconds(50), cancellationToken: Ct));
        Assert.Equal(LockReleaseResult.Released, await writer.ReleaseAsync(Ct));

        await using IDistributedLockHandle? after = await second.TryAcquireReadLockAsync("catalog", cancellationToken: Ct);
        Assert.NotNull(after);
        Assert.Equal(writer.FencingToken, after.FencingToken); // a read grant carries the last write grant's token
        await using IDistributedLockHandle otherName = await first.AcquireWriteLockAsync("other-catalog", TimeSpan.Zero, cancellationToken: Ct);
        await using IDistributedLockHandle sameNameLock = await ((IDistributedLockProvider)first).AcquireAsync("catalog", TimeSpan.Zero, cancellationToken: Ct);
        Assert.NotNull(sameNameLock); // a plain lock of the same name is a different lock: granted while readers hold this one
    }

    [Fact]
    public async Task A_waiting_writer_blocks_new_readers_and_is_handed_the_lock_when_the_readers_leave()
    {
        var (first, second) = await ReaderWriterPairAsync(Defaults with { MaxPollInterval = TimeSpan.FromSeconds(5) }, PollsNeverFire());
        IDistributedLockHandle reader = await first.AcquireReadLockAsync("report", TimeSpan.Zero, cancellationToken: Ct);
        Task<IDistributedLockHandle> writer = second.AcquireWriteLockAsync("report", Long, cancellationToken: Ct).AsTask();

        Assert.True(await ReadIsRefusedWithinAsync(first, "report"), "a waiting writer did not block new readers");
        await Task.Delay(TimeSpan.FromMilliseconds(700), Ct);
        Assert.False(writer.IsCompleted);

        Assert.Equal(LockReleaseResult.Released, await reader.ReleaseAsync(Ct));
        IDistributedLockHandle held = await writer.WaitAsync(NotificationWithin, Ct); // the providers' polls never fire

        Task<IDistributedLockHandle> nextReader = first.AcquireReadLockAsync("report", Long, cancellationToken: Ct).AsTask();
        await Task.Delay(TimeSpan.FromMilliseconds(700), Ct);
        Assert.False(nextReader.IsCompleted);
        Assert.Equal(LockReleaseResult.Released, await held.ReleaseAsync(Ct));
        await using IDistributedLockHandle read = await nextReader.WaitAsync(NotificationWithin, Ct);
        Assert.Equal(held.FencingToken, read.FencingToken);
    }

    [Fact]
    public async Task On_a_writers_release_a_waiting_writer_goes_before_waiting_readers_who_then_enter_together()
    {
        var (first, second) = await ReaderWriterPairAsync(Defaults with { MaxPollInterval = TimeSpan.FromSeconds(5) });
        IDistributedLockHandle writer1 = await first.AcquireWriteLockAsync("ledger", TimeSpan.Zero, cancellationToken: Ct);
        Task<IDistributedLockHandle> reader1 = first.AcquireReadLockAsync("ledger", Long, cancellationToken: Ct).AsTask();
        Task<IDistributedLockHandle> reader2 = second.AcquireReadLockAsync("ledger", Long, cancellationToken: Ct).AsTask();
        await Task.Delay(TimeSpan.FromMilliseconds(300), Ct);
        Task<IDistributedLockHandle> writer2 = second.AcquireWriteLockAsync("ledger", Long, cancellationToken: Ct).AsTask();
        await Task.Delay(TimeSpan.FromMilliseconds(700), Ct);
        Assert.False(reader1.IsCompleted || reader2.IsCompleted || writer2.IsCompleted);

        await writer1.ReleaseAsync(Ct);
        IDistributedLockHandle second1 = await writer2.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.True(second1.FencingToken > writer1.FencingToken);
        await Task.Delay(TimeSpan.FromMilliseconds(300), Ct);
        Assert.False(reader1.IsCompleted || reader2.IsCompleted, "a reader entered while a writer held the lock");

        await second1.ReleaseAsync(Ct);
        IDistributedLockHandle[] readers = await Task.WhenAll(reader1, reader2).WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.All(readers, r => Assert.Equal(second1.FencingToken, r.FencingToken));
        Assert.All(readers, r => Assert.False(r.LostToken.IsCancellationRequested));
        foreach (IDistributedLockHandle r in readers)
        {
            Assert.Equal(LockReleaseResult.Released, await r.ReleaseAsync(Ct));
        }
    }

    [Fact]
    public async Task A_writer_that_gives_up_admits_readers_at_once_and_a_single_try_never_blocks_them()
    {
        var (first, second) = await ReaderWriterPairAsync(Defaults);
        await using IDistributedLockHandle reader = await first.AcquireReadLockAsync("menu", TimeSpan.Zero, cancellationToken: Ct);

        Assert.Null(await second.TryAcquireWriteLockAsync("menu", cancellationToken: Ct));
        await using (IDistributedLockHandle? afterSingleTry = await first.TryAcquireReadLockAsync("menu", cancellationToken: Ct))
        {
            Assert.NotNull(afterSingleTry);
        }

        Assert.Null(await second.TryAcquireWriteLockAsync("menu", TimeSpan.FromMilliseconds(200), cancellationToken: Ct));
        await using (IDistributedLockHandle? afterTimeout = await first.TryAcquireReadLockAsync("menu", cancellationToken: Ct))
        {
            Assert.NotNull(afterTimeout); // the intent (which lasts >= 1 s) was withdrawn
        }

        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cancel.CancelAfter(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await second.AcquireWriteLockAsync("menu", cancellationToken: cancel.Token));
        await using IDistributedLockHandle? afterCancel = await first.TryAcquireReadLockAsync("menu", cancellationToken: Ct);
        Assert.NotNull(afterCancel);
    }

    [Fact]
    public async Task Abandoned_read_and_write_grants_free_the_lock_when_their_leases_end_and_their_release_says_not_held()
    {
        var (first, second) = await ReaderWriterPairAsync(Defaults);
        var crashed = new LockAcquireOptions { Ttl = TimeSpan.FromMilliseconds(400), AutoRenew = false };
        // Waits are counted from before the grant they wait for, so a lease (which starts later, on the server) cannot end before its TTL has passed.
        long start = TimeProvider.System.GetTimestamp();
        IDistributedLockHandle abandonedReader = await first.AcquireReadLockAsync("shelf", TimeSpan.Zero, crashed, Ct);
        IDistributedLockHandle writer = await second.AcquireWriteLockAsync("shelf", TimeSpan.FromSeconds(10), crashed, Ct);
        Assert.True(TimeProvider.System.GetElapsedTime(start) >= crashed.Ttl, "the writer entered before the abandoned read lease ended");
        Assert.True(await Eventually.TrueWithinAsync(() => abandonedReader.LostToken.IsCancellationRequested, TimeSpan.FromSeconds(2)));
        Assert.Equal(LockReleaseResult.NotHeld, await abandonedReader.ReleaseAsync(Ct));
        Assert.False(await abandonedReader.ExtendAsync(Ct));

        // The abandoned write lease frees the lock for the reader (exclusion while it lives is the other tests' matter).
        await using IDistributedLockHandle reader = await first.AcquireReadLockAsync("shelf", TimeSpan.FromSeconds(10), cancellationToken: Ct);
        Assert.True(await Eventually.TrueWithinAsync(() => writer.LostToken.IsCancellationRequested, TimeSpan.FromSeconds(2)));
        Assert.Equal(LockReleaseResult.NotHeld, await writer.ReleaseAsync(Ct));
        Assert.True(reader.FencingToken >= writer.FencingToken, $"read token {reader.FencingToken} after write token {writer.FencingToken}"); // equal, or from the clock once rw-fence expired with the write lease
        Assert.False(reader.LostToken.IsCancellationRequested);
        Assert.True(await reader.ExtendAsync(Ct));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Deleting_a_reader_writer_grant_from_outside_fires_its_lost_token(bool writer)
    {
        var (first, _) = await ReaderWriterPairAsync(Defaults);
        var options = new LockAcquireOptions { Ttl = DeletionTtl };
        IDistributedLockHandle handle = writer
            ? await first.AcquireWriteLockAsync("vanishing", TimeSpan.Zero, options, Ct)
            : await first.AcquireReadLockAsync("vanishing", TimeSpan.Zero, options, Ct);

        await DeleteReaderWriterExternallyAsync("vanishing", writer);
        TimeSpan? firedAfter = await Eventually.FiresWithinAsync(handle.LostToken, 2 * DeletionTtl);

        AssertLostByRenewalNotLeaseEnd(firedAfter);
        Assert.Equal(LockReleaseResult.NotHeld, await handle.ReleaseAsync(Ct));
        Assert.False(await handle.ExtendAsync(Ct));
    }

    [Fact]
    public async Task Reader_writer_names_are_checked_and_timeouts_name_the_lock()
    {
        var (first, second) = await ReaderWriterPairAsync(Defaults);
        ArgumentException name = await Assert.ThrowsAsync<ArgumentException>(async () => await first.TryAcquireReadLockAsync("a{b}", cancellationToken: Ct));
        Assert.Contains("reader-writer lock name", name.Message, StringComparison.Ordinal);

        await using IDistributedLockHandle reader = await first.AcquireReadLockAsync("busy-rw", cancellationToken: Ct);
        TimeoutException timeout = await Assert.ThrowsAsync<TimeoutException>(async () => await second.AcquireWriteLockAsync("busy-rw", TimeSpan.FromMilliseconds(120), cancellationToken: Ct));
        Assert.Contains("'busy-rw'", timeout.Message, StringComparison.Ordinal);
        Assert.Contains("120 ms", timeout.Message, StringComparison.Ordinal);
    }

    private async Task<(IDistributedReaderWriterLockProvider First, IDistributedReaderWriterLockProvider Second)> ReaderWriterPairAsync(LockProviderSettings settings, TimeProvider? providerClock = null)
    {
        var (first, second) = await CreatePairAsync(settings, providerClock);
        return ((IDistributedReaderWriterLockProvider)first, (IDistributedReaderWriterLockProvider)second);
    }

    /// <summary>Polls single read tries (releasing any grant) until one is refused.</summary>
    private static async Task<bool> ReadIsRefusedWithinAsync(IDistributedReaderWriterLockProvider locks, string name)
    {
        long start = TimeProvider.System.GetTimestamp();
        while (TimeProvider.System.GetElapsedTime(start) < TimeSpan.FromSeconds(5))
        {
            IDistributedLockHandle? read = await locks.TryAcquireReadLockAsync(name, cancellationToken: Ct);
            if (read is null)
            {
                return true;
            }

            await read.ReleaseAsync(Ct);
            await Task.Delay(TimeSpan.FromMilliseconds(5), Ct);
        }

        return false;
    }
}
