namespace Sluice.Core.Tests.Stack;

/// <summary>The engine's sweeper wakes for deadlines, not on a period: an idle engine with nothing to expire never wakes.</summary>
public class SweepDeadlineTests
{
    private const long Interval = 5_000;

    [Fact]
    public void NothingLeftToExpire_AndNoTraffic_TheSweeperDoesNotWakeAgain() =>
        Assert.Equal(long.MaxValue, SluiceEngine.NextSweep(now: 100_000, nextExpiry: long.MaxValue, lastTraffic: 40_000, Interval));

    [Fact]
    public void AnEntryExpiringInAMinute_TheSweeperSleepsUntilJustAfterIt() =>
        Assert.Equal(160_001, SluiceEngine.NextSweep(now: 100_000, nextExpiry: 160_000, lastTraffic: 40_000, Interval));

    [Fact]
    public void AnEntryExpiringAtOnce_WaitsOneInterval_SoSweepsStayAsRareAsBefore() =>
        Assert.Equal(105_000, SluiceEngine.NextSweep(now: 100_000, nextExpiry: 100_200, lastTraffic: 40_000, Interval));

    [Fact]
    public void PacketsDuringTheSweep_BringItBackWithinOneInterval_EvenWithNothingSeenToExpire() =>
        Assert.Equal(105_000, SluiceEngine.NextSweep(now: 100_000, nextExpiry: long.MaxValue, lastTraffic: 100_000, Interval));
}
