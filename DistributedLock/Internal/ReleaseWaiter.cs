namespace Lilith.DistributedLock.Internal;

/// <summary>
/// A waiter's wake-up: a release notification completes it; <see cref="WaitAsync"/> returns on a notification
/// (also one that came since the last wait) or when the poll interval passes.
/// </summary>
internal sealed class ReleaseWaiter
{
    private TaskCompletionSource _signal = NewSignal();

    public void Notify() => Volatile.Read(ref _signal).TrySetResult();

    public async Task WaitAsync(TimeSpan atMost, TimeProvider time, CancellationToken cancellationToken)
    {
        TaskCompletionSource signal = Volatile.Read(ref _signal);
        if (!signal.Task.IsCompleted && atMost > TimeSpan.Zero)
        {
            using var stopDelay = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            Task delay = Task.Delay(atMost, time, stopDelay.Token);
            await Task.WhenAny(signal.Task, delay).ConfigureAwait(false);
            stopDelay.Cancel();
            cancellationToken.ThrowIfCancellationRequested();
        }

        // Re-arm before the caller tries again, so a release during that try wakes the next wait.
        if (signal.Task.IsCompleted)
        {
            Interlocked.CompareExchange(ref _signal, NewSignal(), signal);
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
