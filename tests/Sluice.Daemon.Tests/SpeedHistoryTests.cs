using Sluice.Core.Monitoring;

namespace Sluice.Daemon.Tests;

public sealed class SpeedHistoryTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void RingBuffer_KeepsTheNewest_OldestFirst()
    {
        var ring = new RingBuffer<int>(3);
        foreach (int i in Enumerable.Range(1, 5)) ring.Add(i);
        Assert.Equal([3, 4, 5], ring.ToArray());
        Assert.Equal(3, ring.Count);
    }

    [Fact]
    public void ThreeTiers_EachCloseTheirOwnInterval_WithTheAverageRate()
    {
        var history = new SpeedHistory(T0);
        // 1 MB/s download for 90 s, sampled every second (cumulative counters).
        for (int s = 1; s <= 90; s++) history.Record(T0.AddSeconds(s), s * 1000L, s * 1_000_000L);
        var tiers = history.Snapshot(T0.AddSeconds(90)).ToDictionary(t => t.Name);

        // 4m @3s: 30 closed points + the one in progress; every closed point is 1 MB/s.
        Assert.Equal(TimeSpan.FromSeconds(3), tiers["4m"].Interval);
        Assert.Equal(80, tiers["4m"].Capacity);
        Assert.Equal(30, tiers["4m"].Down.Length - 1);
        Assert.All(tiers["4m"].Down[1..^1], v => Assert.Equal(1_000_000, v));
        // 1h @45s: two closed intervals.
        Assert.Equal(3, tiers["1h"].Down.Length);
        Assert.All(tiers["1h"].Down[1..^1], v => Assert.Equal(1_000_000, v));
        // session @1h: only the hour in progress, at the running average.
        Assert.Single(tiers["session"].Down);
        Assert.InRange(tiers["session"].Down[0], 990_000, 1_000_000);
    }

    [Fact]
    public void IdleIntervals_AreZero_AndTheTierWrapsAtItsCapacity()
    {
        var history = new SpeedHistory(T0);
        history.Record(T0.AddSeconds(1), 0, 3_000_000);
        // Nothing for 5 minutes: 4m's ring (80 points) wraps and holds only idle intervals.
        history.Record(T0.AddSeconds(301), 0, 3_000_000);
        var fast = history.Snapshot(T0.AddSeconds(301)).First(t => t.Name == "4m");
        Assert.Equal(80, fast.Down.Length);
        Assert.All(fast.Down, v => Assert.Equal(0, v));
        var hour = history.Snapshot(T0.AddSeconds(301)).First(t => t.Name == "1h");
        Assert.Equal(3_000_000 / 45, hour.Down[0]);
    }
}
