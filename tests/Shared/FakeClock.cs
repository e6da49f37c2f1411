namespace Sluice.Tests;

/// <summary>
/// A TimeProvider that moves only when told, with timers: <see cref="Advance"/> moves time and fires
/// every timer that falls due, in order (so Task.Delay(…, clock) completes exactly when it should).
/// The one fake clock of the test projects (linked into each that needs one).
/// </summary>
internal sealed class FakeClock : TimeProvider
{
    private readonly object _lock = new();
    private readonly List<FakeTimer> _timers = [];
    private long _ticks;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Interlocked.Read(ref _ticks);

    public override DateTimeOffset GetUtcNow() => new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).AddTicks(GetTimestamp());

    /// <summary>Timers waiting to fire (a loop parked in Task.Delay has one).</summary>
    public int PendingTimers
    {
        get
        {
            lock (_lock) return _timers.Count(t => t.Due is not null);
        }
    }

    /// <summary>Time until the earliest pending timer; null when none.</summary>
    public TimeSpan? NextDue
    {
        get
        {
            lock (_lock)
            {
                var due = _timers.Where(t => t.Due is not null).Select(t => t.Due!.Value).DefaultIfEmpty(long.MinValue).Min();
                return due == long.MinValue ? null : TimeSpan.FromTicks(due - GetTimestamp());
            }
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new FakeTimer(this, callback, state);
        timer.Change(dueTime, period);
        lock (_lock) _timers.Add(timer);
        return timer;
    }

    public void Advance(double seconds) => Advance(TimeSpan.FromSeconds(seconds));

    public void Advance(TimeSpan by)
    {
        long end = GetTimestamp() + by.Ticks;
        while (true)
        {
            FakeTimer? next;
            lock (_lock)
            {
                next = _timers.Where(t => t.Due is { } d && d <= end).OrderBy(t => t.Due).FirstOrDefault();
                if (next is null) break;
                Interlocked.Exchange(ref _ticks, Math.Max(GetTimestamp(), next.Due!.Value));
                next.Due = next.Period is { } p && p > TimeSpan.Zero ? next.Due + p.Ticks : null;
            }
            next.Callback(next.State);
        }
        Interlocked.Exchange(ref _ticks, end);
    }

    private sealed class FakeTimer(FakeClock clock, TimerCallback callback, object? state) : ITimer
    {
        public TimerCallback Callback { get; } = callback;
        public object? State { get; } = state;
        public long? Due { get; set; }
        public TimeSpan? Period { get; private set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (clock._lock)
            {
                Due = dueTime == Timeout.InfiniteTimeSpan ? null : clock.GetTimestamp() + dueTime.Ticks;
                Period = period == Timeout.InfiniteTimeSpan ? null : period;
            }
            return true;
        }

        public void Dispose()
        {
            lock (clock._lock)
            {
                Due = null;
                clock._timers.Remove(this);
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
