using Sluice.Core.Monitoring;
using Sluice.Packets;
using Sluice.Tests;

namespace Sluice.Core.Tests.Monitoring;

/// <summary>
/// When the engine gives a burst's memory back: after a burst of flows has closed, once, a delay later; never for
/// an ordinary churn of a few live flows, nor when a new burst has filled the table again meanwhile. The collection
/// is counted, not run (the real one is measured by bench/memory.sh).
/// </summary>
public sealed class MemoryTrimmerTests
{
    private readonly FakeClock _clock = new();
    private readonly ConnectionRegistry _connections;
    private int _collections;
    private int _nativeTrims;

    public MemoryTrimmerTests() => _connections = new ConnectionRegistry(_clock);

    private MemoryTrimmer Trimmer(EngineLimits? limits = null) =>
        new(_connections, limits ?? EngineLimits.Default, _clock, () => _nativeTrims++, () => _collections++);

    private List<TrackedConnection> Open(int count, int first = 0) =>
        Enumerable.Range(first, count).Select(i =>
        {
            var key = new FlowKey(IpProtocol.Tcp, NetAddress.Parse("172.19.0.1"), (ushort)(10000 + i % 50000), NetAddress.Parse("203.0.113.10"), 80);
            return _connections.Add(key, "tun-in", null, null, "direct", "final", null);
        }).ToList();

    [Fact]
    public void AfterABurstOfFlowsHasClosed_OneTrimRuns_OneDelayLater()
    {
        using var trimmer = Trimmer();
        foreach (var connection in Open(1000)) _connections.Remove(connection);

        AssertOneTrimOneDelayLater(trimmer);
    }

    /// <summary>Nothing before the 1 s delay, one collection and one native trim just after it, and no second one later.</summary>
    private void AssertOneTrimOneDelayLater(MemoryTrimmer trimmer)
    {
        int nativeBefore = _nativeTrims;
        _clock.Advance(0.9);
        Assert.Equal(0, _collections);
        Assert.Equal(nativeBefore, _nativeTrims);
        _clock.Advance(0.2);
        Assert.Equal(1, _collections);
        Assert.Equal(nativeBefore + 1, _nativeTrims);

        _clock.Advance(10);
        Assert.Equal(1, trimmer.Trims);
    }

    [Fact]
    public void AnOrdinaryChurnOfFewLiveFlows_NeverTrims_HoweverManyClose()
    {
        using var trimmer = Trimmer();
        var live = new Queue<TrackedConnection>(Open(30));
        for (int i = 0; i < 5000; i++)
        {
            _connections.Remove(live.Dequeue());
            live.Enqueue(Open(1, first: 30 + i)[0]);
            if (i % 100 == 0) _clock.Advance(0.5);
        }
        _clock.Advance(5);

        Assert.Equal(0, _collections);
    }

    [Fact]
    public void ATrimIsSkipped_WhenANewBurstFilledTheTableAgain_BeforeItWasDue_AndRunsAfterThatOneCloses()
    {
        using var trimmer = Trimmer();
        foreach (var connection in Open(600)) _connections.Remove(connection);
        var second = Open(600, first: 600);
        _clock.Advance(2);
        Assert.Equal(0, _collections);

        foreach (var connection in second) _connections.Remove(connection);
        _clock.Advance(2);
        Assert.Equal(1, _collections);
    }

    [Fact]
    public void ABurstSmallerThanTheLimit_OrHalfOfItStillLive_DoesNotTrim()
    {
        using var trimmer = Trimmer();
        foreach (var connection in Open(200)) _connections.Remove(connection); // 200 < 256 closed
        _clock.Advance(2);
        var big = Open(1000, first: 200);
        foreach (var connection in big.Take(400)) _connections.Remove(connection); // 400 closed, 600 of 1000 still live
        _clock.Advance(2);
        Assert.Equal(0, _collections);

        foreach (var connection in big.Skip(400).Take(150)) _connections.Remove(connection); // 450 live of 1000
        _clock.Advance(2);
        Assert.Equal(1, _collections);
    }

    [Fact]
    public void AfterTheEngineStarts_OneTrimRuns_OneDelayLater_WithoutAnyFlow()
    {
        using var trimmer = Trimmer();
        trimmer.AfterStart();
        Assert.Equal(1, _nativeTrims); // the start-up code's pages go at once, before traffic can ramp on top of them

        AssertOneTrimOneDelayLater(trimmer);
    }

    [Fact]
    public void AfterTheEngineStarts_DuringABurstOfNewFlows_OnlyTheNativeTrimRuns_AndTheCollectionWaitsForTheBurstsEnd()
    {
        // The host sends its queued traffic as soon as the tunnel is up: the start trim finds 1,000 flows ramping.
        using var trimmer = Trimmer();
        trimmer.AfterStart();
        var burst = Open(1000);
        _clock.Advance(1.1);
        Assert.Equal(0, _collections);
        Assert.Equal(2, _nativeTrims); // at start, and the delay later

        foreach (var connection in burst) _connections.Remove(connection);
        _clock.Advance(1.1);
        Assert.Equal(1, _collections);
        Assert.Equal(3, _nativeTrims);
    }

    [Fact]
    public void AfterTheEngineStarts_WithTheLimitAtZero_NothingIsTrimmed()
    {
        using var trimmer = Trimmer(EngineLimits.Default with { TrimAfterClosedFlows = 0 });
        trimmer.AfterStart();
        _clock.Advance(5);
        Assert.Equal(0, _collections);
    }

    [Fact]
    public void WithTheLimitAtZero_NothingIsEverTrimmed()
    {
        using var trimmer = Trimmer(EngineLimits.Default with { TrimAfterClosedFlows = 0 });
        foreach (var connection in Open(1000)) _connections.Remove(connection);
        _clock.Advance(5);
        Assert.Equal(0, _collections);
    }

    [Fact]
    public void AfterAFloodOfDnsQueriesThatWaited_OneTrimRuns_OnceNoneWaits_AndNotWhileTheFloodGoesOn()
    {
        // The soak's junk-DNS flood: no flow is tracked, 64 queries of its owner wait at any time, thousands finish.
        using var trimmer = Trimmer();
        for (int i = 0; i < 3000; i++) trimmer.OnWaitingQueryFinished(stillWaiting: 63);
        _clock.Advance(5);
        Assert.Equal(0, _collections); // the flood goes on: its memory is in use

        for (int waiting = 62; waiting >= 0; waiting--) trimmer.OnWaitingQueryFinished(waiting);
        _clock.Advance(0.9);
        Assert.Equal(0, _collections);
        _clock.Advance(0.2);
        Assert.Equal(1, _collections);
        Assert.Equal(1, _nativeTrims);

        // An ordinary host's lookups after it (each alone) do not trim again until another 1,024 have waited.
        for (int i = 0; i < 1000; i++) trimmer.OnWaitingQueryFinished(0);
        _clock.Advance(5);
        Assert.Equal(1, _collections);
        for (int i = 0; i < 30; i++) trimmer.OnWaitingQueryFinished(0);
        _clock.Advance(1.1);
        Assert.Equal(2, _collections);
    }

    [Fact]
    public void AQueryWaitingAgainWhenTheTrimIsDue_PutsItOff_AndWithTheDnsLimitAtZeroNothingTrims()
    {
        using (var trimmer = Trimmer())
        {
            for (int i = 0; i < 1100; i++) trimmer.OnWaitingQueryFinished(0);
            trimmer.OnWaitingQueryFinished(5); // a new flood started before the delay ran out
            _clock.Advance(2);
            Assert.Equal(0, _collections);
        }
        using var never = Trimmer(EngineLimits.Default with { TrimAfterDnsQueries = 0 });
        for (int i = 0; i < 5000; i++) never.OnWaitingQueryFinished(0);
        _clock.Advance(5);
        Assert.Equal(0, _collections);
    }
}
