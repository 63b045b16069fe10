using Lilith.DistributedLock;
using Microsoft.Extensions.DependencyInjection;

namespace Lilith.Demo.Parts;

/// <summary>
/// Lilith.DistributedLock: a lock with a fencing token, a waiter handed the lock on release, a lost lock, and a
/// reader-writer lock whose waiting writer blocks new readers.
/// </summary>
public sealed class DistributedLockPart : IDemoPart
{
    /// <inheritdoc />
    public int Order => 40;

    /// <inheritdoc />
    public string Title => "Lilith.DistributedLock: leased locks, fencing tokens, fast handoff";

    /// <inheritdoc />
    public void Configure(IServiceCollection services, DemoBackend backend) =>
        services.AddDistributedLock(o =>
        {
            o.Backend = backend.IsRedis ? DistributedLockBackend.Redis : DistributedLockBackend.InMemory;
            o.KeyPrefix = "lilith-demo";
        });

    /// <inheritdoc />
    public async Task RunAsync(IServiceProvider services, TextWriter output, CancellationToken cancellationToken)
    {
        IDistributedLockProvider locks = services.GetRequiredService<IDistributedLockProvider>();
        string name = $"demo-orders-{Guid.NewGuid():N}";

        IDistributedLockHandle first = await locks.AcquireAsync(name, TimeSpan.FromSeconds(5), cancellationToken: cancellationToken);
        output.WriteLine($"   acquired '{first.Name}' with fencing token {first.FencingToken} (lease 30 s, renewed every 10 s)");

        IDistributedLockHandle? busy = await locks.TryAcquireAsync(name, TimeSpan.FromMilliseconds(50), cancellationToken: cancellationToken);
        output.WriteLine($"   a second caller trying for 50 ms gets: {(busy is null ? "nothing (held)" : "the lock?!")}");

        Task<IDistributedLockHandle> waiter = locks.AcquireAsync(name, TimeSpan.FromSeconds(5), cancellationToken: cancellationToken).AsTask();
        await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        var handoff = System.Diagnostics.Stopwatch.StartNew();
        output.WriteLine($"   release: {await first.ReleaseAsync(cancellationToken)}");
        await using IDistributedLockHandle second = await waiter;
        output.WriteLine($"   the waiter got it {handoff.Elapsed.TotalMilliseconds:0.0} ms after the release, fencing token {second.FencingToken} (> {first.FencingToken})");

        IDistributedLockHandle shortLease = await locks.AcquireAsync(name + "-short", options: new LockAcquireOptions { Ttl = TimeSpan.FromMilliseconds(200), AutoRenew = false }, cancellationToken: cancellationToken);
        using var untilLost = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, shortLease.LostToken);
        try
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, untilLost.Token);
        }
        catch (OperationCanceledException) when (shortLease.LostToken.IsCancellationRequested)
        {
            output.WriteLine("   a 200 ms lease without renewal ran out: LostToken fired, so the work it guarded stops");
        }

        output.WriteLine($"   release after the lease ended: {await shortLease.ReleaseAsync(cancellationToken)} (nothing deleted; a new holder would be untouched)");

        IDistributedReaderWriterLockProvider rwLocks = services.GetRequiredService<IDistributedReaderWriterLockProvider>();
        string catalog = name + "-catalog";
        IDistributedLockHandle reader1 = await rwLocks.AcquireReadLockAsync(catalog, TimeSpan.Zero, cancellationToken: cancellationToken);
        IDistributedLockHandle reader2 = await rwLocks.AcquireReadLockAsync(catalog, TimeSpan.Zero, cancellationToken: cancellationToken);
        output.WriteLine("   reader-writer lock: two readers hold it at once");
        Task<IDistributedLockHandle> writer = rwLocks.AcquireWriteLockAsync(catalog, TimeSpan.FromSeconds(5), cancellationToken: cancellationToken).AsTask();
        await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        IDistributedLockHandle? lateReader = await rwLocks.TryAcquireReadLockAsync(catalog, cancellationToken: cancellationToken);
        output.WriteLine($"   a writer waits; a new reader now gets: {(lateReader is null ? "nothing (the waiting writer goes first)" : "the lock?!")}");
        await reader1.ReleaseAsync(cancellationToken);
        await reader2.ReleaseAsync(cancellationToken);
        await using (IDistributedLockHandle write = await writer)
        {
            output.WriteLine($"   the readers left: the writer got it with fencing token {write.FencingToken}");
        }

        await using IDistributedLockHandle afterWrite = await rwLocks.AcquireReadLockAsync(catalog, TimeSpan.FromSeconds(5), cancellationToken: cancellationToken);
        output.WriteLine($"   a reader after the write carries the last write's token: {afterWrite.FencingToken}");
    }
}
