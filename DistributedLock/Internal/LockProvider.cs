using System.Diagnostics;
using Lilith.Common;
using Microsoft.Extensions.Logging;

namespace Lilith.DistributedLock.Internal;

/// <summary>Settings of a provider, taken from validated <see cref="DistributedLockOptions"/>.</summary>
internal sealed record LockProviderSettings(TimeSpan DefaultTtl, bool AutoRenew, TimeSpan MaxPollInterval)
{
    public static LockProviderSettings From(DistributedLockOptions options) => new(options.DefaultTtl, options.AutoRenew, options.MaxPollInterval);
}

/// <summary>
/// The acquisition loop shared by both backends: one try; then, while waiting, a release subscription plus a
/// fallback poll whose pause doubles from 10 ms to <see cref="LockProviderSettings.MaxPollInterval"/> and never
/// outlasts the holder's remaining lease.
/// </summary>
internal sealed partial class LockProvider(ILockBackend backend, LockProviderSettings settings, TimeProvider time, ILogger logger)
    : IDistributedLockProvider, IDistributedSemaphoreProvider, IDistributedReaderWriterLockProvider, IAsyncDisposable
{
    /// <summary>Most holders a semaphore may admit.</summary>
    public const int MaxSemaphoreCount = 100_000;

    private const string ReaderWriterKind = "reader-writer lock";

    private readonly ILockBackend _readers = backend.ForReaderWriter(write: false, DistributedLockDefaults.IntentLease(settings.MaxPollInterval));
    private readonly ILockBackend _writers = backend.ForReaderWriter(write: true, DistributedLockDefaults.IntentLease(settings.MaxPollInterval));

    private readonly RenewalScheduler _renewals = new(time);
    private readonly AbandonedGrantCleaner _abandoned = new(time, logger);

    internal ILockBackend Backend => backend;

    public async ValueTask<IDistributedLockHandle> AcquireAsync(string name, TimeSpan? timeout = null, LockAcquireOptions? options = null, CancellationToken cancellationToken = default) =>
        await AcquireCoreAsync(backend, "lock", name, timeout, options, throwOnTimeout: true, cancellationToken).ConfigureAwait(false)
        ?? throw new UnreachableException();

    public ValueTask<IDistributedLockHandle?> TryAcquireAsync(string name, TimeSpan timeout = default, LockAcquireOptions? options = null, CancellationToken cancellationToken = default) =>
        AcquireCoreAsync(backend, "lock", name, timeout, options, throwOnTimeout: false, cancellationToken);

    public async ValueTask<IDistributedLockHandle> AcquireSemaphoreAsync(string name, int maxCount, TimeSpan? timeout = null, LockAcquireOptions? options = null, CancellationToken cancellationToken = default) =>
        await AcquireCoreAsync(Semaphore(maxCount), "semaphore", name, timeout, options, throwOnTimeout: true, cancellationToken).ConfigureAwait(false)
        ?? throw new UnreachableException();

    public ValueTask<IDistributedLockHandle?> TryAcquireSemaphoreAsync(string name, int maxCount, TimeSpan timeout = default, LockAcquireOptions? options = null, CancellationToken cancellationToken = default) =>
        AcquireCoreAsync(Semaphore(maxCount), "semaphore", name, timeout, options, throwOnTimeout: false, cancellationToken);

    public async ValueTask<IDistributedLockHandle> AcquireReadLockAsync(string name, TimeSpan? timeout = null, LockAcquireOptions? options = null, CancellationToken cancellationToken = default) =>
        await AcquireCoreAsync(_readers, ReaderWriterKind, name, timeout, options, throwOnTimeout: true, cancellationToken).ConfigureAwait(false)
        ?? throw new UnreachableException();

    public ValueTask<IDistributedLockHandle?> TryAcquireReadLockAsync(string name, TimeSpan timeout = default, LockAcquireOptions? options = null, CancellationToken cancellationToken = default) =>
        AcquireCoreAsync(_readers, ReaderWriterKind, name, timeout, options, throwOnTimeout: false, cancellationToken);

    public async ValueTask<IDistributedLockHandle> AcquireWriteLockAsync(string name, TimeSpan? timeout = null, LockAcquireOptions? options = null, CancellationToken cancellationToken = default) =>
        await AcquireCoreAsync(_writers, ReaderWriterKind, name, timeout, options, throwOnTimeout: true, cancellationToken).ConfigureAwait(false)
        ?? throw new UnreachableException();

    public ValueTask<IDistributedLockHandle?> TryAcquireWriteLockAsync(string name, TimeSpan timeout = default, LockAcquireOptions? options = null, CancellationToken cancellationToken = default) =>
        AcquireCoreAsync(_writers, ReaderWriterKind, name, timeout, options, throwOnTimeout: false, cancellationToken);

    public ValueTask DisposeAsync()
    {
        _renewals.Dispose();
        return backend.DisposeAsync();
    }

    private ILockBackend Semaphore(int maxCount) =>
        maxCount is >= 1 and <= MaxSemaphoreCount
            ? backend.ForSemaphore(maxCount)
            : throw new ArgumentOutOfRangeException(nameof(maxCount), maxCount, $"maxCount {maxCount} is outside 1 .. {MaxSemaphoreCount}.");

    private async ValueTask<IDistributedLockHandle?> AcquireCoreAsync(ILockBackend backend, string kind, string name, TimeSpan? timeout, LockAcquireOptions? options, bool throwOnTimeout, CancellationToken cancellationToken)
    {
        KeySchema.ValidateName(name, kind);
        if (timeout == Timeout.InfiniteTimeSpan)
        {
            timeout = null;
        }
        else if (timeout < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, $"The timeout {timeout} is negative; use TimeSpan.Zero to try once or null to wait without limit.");
        }

        TimeSpan ttl = options?.Ttl ?? settings.DefaultTtl;
        if (ttl < DistributedLockDefaults.MinTtl || ttl > DistributedLockDefaults.MaxTtl)
        {
            throw new ArgumentOutOfRangeException(nameof(options), ttl, $"LockAcquireOptions.Ttl: {ttl} is outside {DistributedLockDefaults.MinTtl} .. {DistributedLockDefaults.MaxTtl}.");
        }

        bool autoRenew = options?.AutoRenew ?? settings.AutoRenew;
        cancellationToken.ThrowIfCancellationRequested();
        string holder = HolderToken.New();
        long started = time.GetTimestamp();
        Exception? unreachable = null;
        AcquireAttempt attempt = default;

        // A positive timeout also bounds every call to Redis (plus a grace for the last answer), so a server that does not
        // answer (down, refusing the password, failing over) cannot stretch the caller's wait.
        using AcquireDeadline? deadline = timeout is { } bound && bound > TimeSpan.Zero
            ? new AcquireDeadline(bound + DistributedLockDefaults.AnswerGrace, time, cancellationToken)
            : null;
        CancellationToken token = deadline?.Token ?? cancellationToken;
        bool awaitingRedis = false;

        // Set while a try is on its way and after a try ended without an answer: Redis may have run it (a script queued
        // behind CLIENT PAUSE, a reply lost), so an acquire that ends without a grant cleans up after itself.
        bool mayHoldUnknowingly = false;
        bool granted = false;
        try
        {
            // The uncontended path: one round trip, no subscription.
            bool waiting = timeout != TimeSpan.Zero;
            try
            {
                awaitingRedis = mayHoldUnknowingly = true;
                attempt = await backend.TryAcquireAsync(name, holder, ttl, waiting, token).ConfigureAwait(false);
                awaitingRedis = mayHoldUnknowingly = false;
                if (attempt.Granted)
                {
                    granted = true;
                    return Grant(backend, name, holder, attempt.FencingToken, ttl, started, started, autoRenew);
                }
            }
            catch (Exception e) when (waiting && backend.IsUnavailable(e))
            {
                unreachable = e;
            }
            catch (Exception e) when (backend.IsUnavailable(e))
            {
                throw Unreachable(backend, name, timeout, e);
            }
            catch (OperationCanceledException) when (waiting)
            {
                // The try may have registered a writer's intent before the wait for its answer was cancelled.
                await WithdrawAsync(backend, name, holder).ConfigureAwait(false);
                throw;
            }

            if (!waiting)
            {
                return TimedOut(name, TimeSpan.Zero, throwOnTimeout);
            }

            using Activity? activity = LockTelemetry.ActivitySource.StartActivity("lock wait");
            activity?.SetTag("lilith.lock.name", name);
            var waiter = new ReleaseWaiter();
            IAsyncDisposable? subscription = null;
            try
            {
                TimeSpan pause = DistributedLockDefaults.FirstPollInterval;
                while (true)
                {
                    if (subscription is null)
                    {
                        try
                        {
                            awaitingRedis = true;
                            subscription = await backend.SubscribeAsync(name, waiter, token).ConfigureAwait(false);
                            awaitingRedis = false;
                        }
                        catch (Exception e) when (backend.IsUnavailable(e))
                        {
                            unreachable = e;
                        }
                    }

                    // Try right after subscribing too: a release between the first try and the subscription is not announced to us.
                    long attemptStart = time.GetTimestamp();
                    try
                    {
                        awaitingRedis = mayHoldUnknowingly = true;
                        attempt = await backend.TryAcquireAsync(name, holder, ttl, waiting, token).ConfigureAwait(false);
                        awaitingRedis = false;
                        unreachable = null;

                        // Answered: a grant made by an earlier unanswered try would have been returned (acquire is
                        // idempotent per holder token), so nothing is held unknowingly any more.
                        mayHoldUnknowingly = false;
                        if (attempt.Granted)
                        {
                            granted = true;
                            return Grant(backend, name, holder, attempt.FencingToken, ttl, started, attemptStart, autoRenew);
                        }
                    }
                    catch (Exception e) when (backend.IsUnavailable(e))
                    {
                        unreachable = e;
                        attempt = default;
                    }

                    TimeSpan wait = pause;
                    if (attempt.HolderLeaseLeft is { } leaseLeft && leaseLeft + TimeSpan.FromMilliseconds(1) < wait)
                    {
                        wait = leaseLeft + TimeSpan.FromMilliseconds(1);
                    }

                    if (timeout is { } limit)
                    {
                        TimeSpan remaining = limit - time.GetElapsedTime(started);
                        if (remaining <= TimeSpan.Zero)
                        {
                            return unreachable is not null ? throw Unreachable(backend, name, timeout, unreachable) : TimedOut(name, limit, throwOnTimeout);
                        }

                        wait = remaining < wait ? remaining : wait;
                    }

                    await waiter.WaitAsync(wait, time, token).ConfigureAwait(false);
                    pause = pause * 2 < settings.MaxPollInterval ? pause * 2 : settings.MaxPollInterval;
                }
            }
            finally
            {
                if (subscription is not null)
                {
                    await subscription.DisposeAsync().ConfigureAwait(false);
                }

                if (!granted)
                {
                    await WithdrawAsync(backend, name, holder).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (deadline is { Expired: true } && !cancellationToken.IsCancellationRequested)
        {
            // Past the timeout and its grace: a call to Redis is still unanswered (or the machine is starved).
            return unreachable is null && !awaitingRedis
                ? TimedOut(name, timeout!.Value, throwOnTimeout)
                : throw Unreachable(backend, name, timeout,
                    unreachable ?? new TimeoutException($"no answer within {DistributedLockDefaults.AnswerGrace.TotalMilliseconds} ms after the timeout"));
        }
        finally
        {
            if (!granted && mayHoldUnknowingly)
            {
                _abandoned.CleanUp(backend, name, holder, ttl);
            }
        }
    }

    /// <summary>The caller's token, cancelled also when the acquire timeout runs out (on the provider's clock).</summary>
    private sealed class AcquireDeadline : IDisposable
    {
        private readonly CancellationTokenSource _timer;
        private readonly CancellationTokenSource _linked;

        public AcquireDeadline(TimeSpan timeout, TimeProvider time, CancellationToken caller)
        {
            _timer = new CancellationTokenSource(timeout, time);
            _linked = CancellationTokenSource.CreateLinkedTokenSource(caller, _timer.Token);
        }

        public CancellationToken Token => _linked.Token;

        public bool Expired => _timer.IsCancellationRequested;

        public void Dispose()
        {
            _linked.Dispose();
            _timer.Dispose();
        }
    }

    /// <summary>
    /// A waiter gives up (timeout, cancellation, error): a writer's intent is removed at once so that readers need
    /// not wait for it to expire. Best effort, bounded: the intent expires by itself.
    /// </summary>
    private async ValueTask WithdrawAsync(ILockBackend backend, string name, string holder)
    {
        if (backend.Kind != LockKind.Write)
        {
            return;
        }

        Task withdraw = backend.WithdrawAsync(name, holder, CancellationToken.None).AsTask();
        try
        {
            await withdraw.WaitAsync(DistributedLockDefaults.WithdrawTimeout, time).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            TaskObservation.Observe(withdraw);
            Log.WithdrawFailed(logger, name, e);
        }
    }

    private LockHandle Grant(ILockBackend backend, string name, string holder, long fencingToken, TimeSpan ttl, long started, long leaseStart, bool autoRenew)
    {
        LockTelemetry.Acquired.Add(1);
        if (LockTelemetry.WaitDuration.Enabled)
        {
            LockTelemetry.WaitDuration.Record(time.GetElapsedTime(started).TotalMilliseconds);
        }

        return new LockHandle(backend, time, logger, name, holder, fencingToken, ttl, leaseStart, autoRenew ? _renewals : null);
    }

    private static LockHandle? TimedOut(string name, TimeSpan timeout, bool throwOnTimeout)
    {
        LockTelemetry.TimedOut.Add(1);
        return throwOnTimeout
            ? throw new TimeoutException($"'{name}' was held by other holders for the whole timeout of {timeout.TotalMilliseconds} ms.")
            : null;
    }

    private DistributedLockException Unreachable(ILockBackend backend, string name, TimeSpan? timeout, Exception error)
    {
        Log.BackendUnreachable(logger, name, backend.Description, error);
        return new DistributedLockException(
            $"'{name}' could not be acquired: {backend.Description} could not be reached" +
            (timeout is { } t ? $" within the timeout of {t.TotalMilliseconds} ms" : string.Empty) + $" ({error.GetType().Name}: {error.Message}).",
            error);
    }
}
