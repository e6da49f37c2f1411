using Sluice.Core.Stack;

namespace Sluice.Core;

/// <summary>The engine's sweeper: deadline-driven expiry of the NAT, UDP sessions, L3 flows and echoes.</summary>
public sealed partial class SluiceEngine
{
    /// <summary>
    /// Forgets expired NAT entries, UDP sessions, L3 flows and echoes. Deadline-driven, so an idle engine
    /// does not wake for it: while packets flow it runs at most every <see cref="EngineLimits.SweepInterval"/>
    /// (new entries are made all the time); once they stop, it sleeps until the earliest entry left can
    /// expire (open relayed connections never do), and not at all when nothing can.
    /// </summary>
    private void Sweep()
    {
        long now = _time.Milliseconds(), next = long.MaxValue;
        long grace = (long)_limits.TcpNatClosedGrace.TotalMilliseconds, unaccepted = (long)_limits.TcpNatUnaccepted.TotalMilliseconds;
        try
        {
            if (_nat4 is not null) _nat4.Sweep(now, closedGrace: grace, idle: unaccepted);
            if (_nat6 is not null) _nat6.Sweep(now, closedGrace: grace, idle: unaccepted);
            _udp?.Sweep(now);
            _l3?.Sweep(now);
            _icmp4?.Sweep(now);
            _icmp6?.Sweep(now);
            next = Math.Min(Math.Min(_nat4?.NextExpiry ?? long.MaxValue, _nat6?.NextExpiry ?? long.MaxValue),
                Math.Min(Math.Min(_udp?.NextExpiry ?? long.MaxValue, _l3?.NextExpiry ?? long.MaxValue),
                    Math.Min(_icmp4?.NextExpiry ?? long.MaxValue, _icmp6?.NextExpiry ?? long.MaxValue)));
        }
        catch (Exception e)
        {
            LogSweepFailed(_logger, e.Message);
            next = now; // try again one interval on
        }
        long interval = (long)_limits.SweepInterval.TotalMilliseconds;
        lock (_sweepLock)
        {
            long due = NextSweep(now, next, Volatile.Read(ref _lastTraffic), interval);
            _sweepDue = due;
            _sweeper?.Change(due == long.MaxValue ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(due - now), Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>
    /// When the sweeper runs next (engine ms; MaxValue = not at all), given the earliest expiry among the
    /// entries left and the latest TUN batch: never sooner than one interval on; within one interval if
    /// packets came during this sweep (they may have made entries it did not see).
    /// </summary>
    internal static long NextSweep(long now, long nextExpiry, long lastTraffic, long interval)
    {
        long due = nextExpiry == long.MaxValue ? long.MaxValue : Math.Max(nextExpiry + 1, now + interval);
        return lastTraffic >= now ? Math.Min(due, now + interval) : due;
    }

    /// <summary>After each TUN batch: the sweeper runs within one interval from now (it may sleep far longer while nothing flows).</summary>
    private void NoteTraffic(long now)
    {
        Volatile.Write(ref _lastTraffic, now);
        long soonest = now + (long)_limits.SweepInterval.TotalMilliseconds;
        if (soonest >= Volatile.Read(ref _sweepDue)) return;
        lock (_sweepLock)
        {
            if (soonest >= _sweepDue) return;
            _sweepDue = soonest;
            _sweeper?.Change(_limits.SweepInterval, Timeout.InfiniteTimeSpan);
        }
    }
}
