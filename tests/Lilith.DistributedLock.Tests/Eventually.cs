namespace Lilith.DistributedLock.Tests;

/// <summary>Waits on conditions with a deadline instead of sleeping.</summary>
internal static class Eventually
{
    public static async Task<bool> TrueWithinAsync(Func<bool> condition, TimeSpan deadline)
    {
        long start = TimeProvider.System.GetTimestamp();
        while (!condition())
        {
            if (TimeProvider.System.GetElapsedTime(start) > deadline)
            {
                return false;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(5), TestContext.Current.CancellationToken);
        }

        return true;
    }

    /// <summary>How long until <paramref name="token"/> fires, or null if it does not within <paramref name="deadline"/>.</summary>
    public static async Task<TimeSpan?> FiresWithinAsync(CancellationToken token, TimeSpan deadline)
    {
        long start = TimeProvider.System.GetTimestamp();
        var fired = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using CancellationTokenRegistration registration = token.Register(() => fired.TrySetResult());
        Task done = await Task.WhenAny(fired.Task, Task.Delay(deadline, TestContext.Current.CancellationToken));
        return done == fired.Task ? TimeProvider.System.GetElapsedTime(start) : null;
    }
}
