namespace Sluice.Core.Outbounds.WireGuard;

/// <summary>
/// How the timer thread sleeps without a look-ahead (issue #19): it says until when it sleeps
/// (<see cref="TimerThreadSleepsUntil"/>), and a timer that the data path arms earlier than that wakes it
/// (<see cref="TimerArmedEarlier"/>). Arming happens a few times per keepalive period (a deadline armed
/// once stays armed while traffic flows), never per packet, so the check costs nothing on the hot path.
/// </summary>
public sealed partial class WireGuardDevice
{
    // long.MaxValue: the timer thread is awake (it will look at every timer again) or sleeps with nothing armed;
    // either way any timer armed now must wake it.
    private long _timerSleepsUntil = long.MaxValue;

    /// <summary>Raised on the arming thread when a timer is armed earlier than the timer thread's sleep ends; the handler wakes it.</summary>
    public event Action? TimerArmedEarlier;

    /// <summary>The timer thread is about to look at the timers: anything armed from now on wakes it again.</summary>
    public void TimerThreadAwake() => Volatile.Write(ref _timerSleepsUntil, long.MaxValue);

    /// <summary>The timer thread sleeps until <paramref name="due"/> (<see cref="Now"/> ticks; long.MaxValue: until woken).</summary>
    public void TimerThreadSleepsUntil(long due)
    {
        Volatile.Write(ref _timerSleepsUntil, due);
        Interlocked.MemoryBarrier(); // a timer armed before this store is seen by the caller's next NextTimerDue, or wakes it
    }

    /// <summary>A timer of some peer is armed for <paramref name="due"/>: wakes the timer thread when it would sleep past it.</summary>
    internal void NoteTimerArmed(long due)
    {
        Interlocked.MemoryBarrier(); // the timer's store before the read of the sleep deadline (Dekker with TimerThreadSleepsUntil)
        if (due < Volatile.Read(ref _timerSleepsUntil)) TimerArmedEarlier?.Invoke();
    }
}
