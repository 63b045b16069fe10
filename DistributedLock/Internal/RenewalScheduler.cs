using System.Collections.Concurrent;

namespace Lilith.DistributedLock.Internal;

/// <summary>
/// One timer per provider drives the renewals of all its auto-renewed handles, instead of a timer per handle: a grant
/// then only joins a set, and a release only leaves it. Scheduling a new timer per grant cost more than the rest of
/// the handle (the timer thread is woken whenever a timer is due sooner than any other it has).
/// The timer ticks every quarter of the shortest renewal period among the handles added since it started (so a renewal
/// runs at most a quarter period late: every TTL / 3 to TTL / 3 + TTL / 12). It stops at a tick that finds no handle
/// and starts again with the next grant.
/// </summary>
internal sealed class RenewalScheduler : IDisposable
{
    private static readonly TimeSpan ShortestTick = TimeSpan.FromMilliseconds(1);

    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<LockHandle, byte> _handles = new(ReferenceEqualityComparer.Instance);
    private readonly object _gate = new();
    private ITimer? _timer;
    private TimeSpan _tick = Timeout.InfiniteTimeSpan;
    private bool _ticking;
    private bool _disposed;

    public RenewalScheduler(TimeProvider time) => _time = time;

    /// <summary>Renews <paramref name="handle"/> from now on, until <see cref="Remove"/>.</summary>
    public void Add(LockHandle handle)
    {
        _handles.TryAdd(handle, 0);
        Interlocked.MemoryBarrier();
        TimeSpan tick = handle.RenewalPeriod / 4 > ShortestTick ? handle.RenewalPeriod / 4 : ShortestTick;
        if (Volatile.Read(ref _ticking) && tick >= _tick)
        {
            return;
        }

        lock (_gate)
        {
            if (_disposed)
            {
                handle.SignalLost("the lock provider was disposed, so nothing renews the lock");
                return;
            }

            if (_ticking && tick >= _tick)
            {
                return;
            }

            _tick = _tick == Timeout.InfiniteTimeSpan || tick < _tick ? tick : _tick;
            _timer ??= _time.CreateTimer(static state => ((RenewalScheduler)state!).Tick(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _timer.Change(_tick, _tick);
            Volatile.Write(ref _ticking, true);
        }
    }

    /// <summary>Stops renewing <paramref name="handle"/> (released or lost).</summary>
    public void Remove(LockHandle handle) => _handles.TryRemove(handle, out _);

    /// <summary>Stops the timer; the handles still held are told that nothing renews them any more.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _ticking = false;
            _timer?.Dispose();
        }

        foreach (LockHandle handle in _handles.Keys)
        {
            handle.SignalLost("the lock provider was disposed, so nothing renews the lock");
        }

        _handles.Clear();
    }

    private void Tick()
    {
        if (_handles.IsEmpty)
        {
            lock (_gate)
            {
                // Clear the flag first, then look again: a grant adds its handle first, then reads the flag. One of the
                // two sees the other's write, so either this tick keeps the timer or the grant restarts it.
                Volatile.Write(ref _ticking, false);
                Interlocked.MemoryBarrier();
                if (!_handles.IsEmpty || _disposed)
                {
                    _ticking = !_disposed;
                }
                else
                {
                    _timer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                    _tick = Timeout.InfiniteTimeSpan;
                    return;
                }
            }
        }

        long now = _time.GetTimestamp();
        foreach (LockHandle handle in _handles.Keys)
        {
            handle.OnTick(now);
        }
    }
}
