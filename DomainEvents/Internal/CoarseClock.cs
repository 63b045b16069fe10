namespace Lilith.DomainEvents.Internal;

/// <summary>
/// The wall-clock time of in-process envelopes, at millisecond resolution (the resolution of the <c>time</c> this
/// library writes in CloudEvents JSON), without a precise clock read per dispatch. The system clock is read at most
/// once a second; a time in between is that reading plus the milliseconds the coarse monotonic clock
/// (<see cref="Environment.TickCount64"/>) counted since. That clock costs a few nanoseconds to read and steps by the
/// kernel's tick (1 to 4 ms); the precise one cost about 28 ns on a virtual machine, a third of a whole dispatch.
/// </summary>
/// <param name="system">The clock it stands in for (the system's; a test's own in tests).</param>
internal sealed class CoarseClock(TimeProvider system)
{
    /// <summary>How long a reading of the system clock is extended with the monotonic clock.</summary>
    internal const long RefreshAfterMilliseconds = 1000;

    /// <summary>The process's clock for <see cref="TimeProvider.System"/>.</summary>
    public static CoarseClock System { get; } = new(TimeProvider.System);

    private Reading? _last;

    /// <summary>The current UTC time, within the coarse clock's step of the system clock's.</summary>
    public DateTimeOffset UtcNow()
    {
        long tick = Environment.TickCount64;
        Reading? last = Volatile.Read(ref _last);
        if (last is null || tick - last.Tick >= RefreshAfterMilliseconds || tick < last.Tick)
        {
            // First use, a second old, or taken by another thread after this one read the tick: read the system clock.
            last = new Reading(system.GetUtcNow().UtcTicks, tick);
            Volatile.Write(ref _last, last);
            return new DateTimeOffset(last.UtcTicks, TimeSpan.Zero);
        }

        return new DateTimeOffset(last.UtcTicks + ((tick - last.Tick) * TimeSpan.TicksPerMillisecond), TimeSpan.Zero);
    }

    /// <summary>A reading of the system clock and the monotonic tick when it was taken.</summary>
    private sealed record Reading(long UtcTicks, long Tick);
}
