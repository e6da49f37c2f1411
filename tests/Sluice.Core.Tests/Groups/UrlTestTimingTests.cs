using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Core.Configuration;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.Groups;
using Sluice.Packets;

namespace Sluice.Core.Tests.Groups;

/// <summary>urltest timing against a fake clock and fake probes: tolerance, interval, idle stop.</summary>
public sealed class UrlTestTimingTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromMinutes(1);
    private static readonly Destination Somewhere = new(NetAddress.FromV4(0xC6336401), 80);

    private readonly FakeClock _clock = new();
    private readonly ConcurrentDictionary<string, TimeSpan> _delays = new();
    private readonly ConcurrentDictionary<string, bool> _down = new();
    private int _rounds; // probes of member "a": one per round

    private OutboundGroup Group(TimeSpan? tolerance = null, TimeSpan? idle = null)
    {
        var members = _delays.Keys.Order().Select(t => (IOutbound)new StubOutbound(t)).ToDictionary(o => o.Tag);
        var options = new GroupOutboundOptions("urltest", "auto", members.Keys.Order().ToArray(), null, Interval,
            tolerance ?? TimeSpan.FromMilliseconds(50), idle ?? TimeSpan.FromMinutes(30), false);
        return new OutboundGroup(options, t => members.GetValueOrDefault(t), NullLogger.Instance, _clock, Probe);
    }

    private ValueTask<TimeSpan?> Probe(IOutbound outbound, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (outbound.Tag == "a") Interlocked.Increment(ref _rounds);
        if (_down.ContainsKey(outbound.Tag)) throw new OutboundException($"{outbound.Tag}: refused");
        return ValueTask.FromResult<TimeSpan?>(_delays[outbound.Tag]);
    }

    /// <summary>Waits (real time, bounded) until <paramref name="rounds"/> rounds ran and the loop is parked in its next delay (or stopped).</summary>
    private void WaitForRound(int rounds, bool parked = true)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (DateTime.UtcNow < deadline)
        {
            if (Volatile.Read(ref _rounds) == rounds && (_clock.PendingTimers == 1) == parked) return;
            Thread.Sleep(5);
        }
        Assert.Fail($"expected {rounds} rounds (parked: {parked}), saw {_rounds} rounds and {_clock.PendingTimers} timers");
    }

    [Fact]
    public async Task UrlTest_DoesNotSwitch_ForGainUnderTolerance_ButDoesAboveIt()
    {
        _delays["a"] = TimeSpan.FromMilliseconds(100);
        _delays["b"] = TimeSpan.FromMilliseconds(120);
        using var group = Group(tolerance: TimeSpan.FromMilliseconds(50));
        await group.DialTcpAsync(Somewhere, default);
        WaitForRound(1);
        Assert.Equal("a", group.Current?.Tag);

        _delays["b"] = TimeSpan.FromMilliseconds(60); // 40 ms better: under the tolerance
        _clock.Advance(Interval);
        WaitForRound(2);
        Assert.Equal("a", group.Current?.Tag);

        _delays["b"] = TimeSpan.FromMilliseconds(40); // 60 ms better: above it
        _clock.Advance(Interval);
        WaitForRound(3);
        Assert.Equal("b", group.Current?.Tag);
    }

    [Fact]
    public async Task UrlTest_ProbesOncePerInterval_NotBefore()
    {
        _delays["a"] = TimeSpan.FromMilliseconds(10);
        _delays["b"] = TimeSpan.FromMilliseconds(20);
        using var group = Group();
        await group.DialTcpAsync(Somewhere, default);
        WaitForRound(1);

        _clock.Advance(Interval - TimeSpan.FromSeconds(1));
        Thread.Sleep(100);
        WaitForRound(1);

        _clock.Advance(TimeSpan.FromSeconds(1));
        WaitForRound(2);
        for (int round = 3; round <= 5; round++)
        {
            _clock.Advance(Interval);
            WaitForRound(round);
        }
    }

    [Fact]
    public async Task UrlTest_StopsProbingWhenIdle_AndResumesOnTheNextFlow()
    {
        _delays["a"] = TimeSpan.FromMilliseconds(10);
        _delays["b"] = TimeSpan.FromMilliseconds(20);
        using var group = Group(idle: TimeSpan.FromMinutes(3));
        await group.DialTcpAsync(Somewhere, default); // t = 0: last use
        WaitForRound(1);
        for (int minute = 1; minute <= 3; minute++)
        {
            _clock.Advance(Interval);
            WaitForRound(1 + minute); // t = 1..3 min: not idle longer than 3 min yet
        }

        _clock.Advance(Interval); // t = 4 min: this round finds the group idle and the loop ends
        WaitForRound(5, parked: false);
        _clock.Advance(TimeSpan.FromMinutes(30));
        Thread.Sleep(100);
        WaitForRound(5, parked: false); // no probing while idle

        await group.DialTcpAsync(Somewhere, default);
        WaitForRound(6);
        _clock.Advance(Interval);
        WaitForRound(7);
    }

    [Fact]
    public async Task UrlTest_PinnedMember_CarriesFlowsWhileHealthy_OverAFasterOne_AndUnpinningPicksByProbesAgain()
    {
        _delays["a"] = TimeSpan.FromMilliseconds(10);
        _delays["b"] = TimeSpan.FromMilliseconds(300);
        using var group = Group(tolerance: TimeSpan.Zero);
        await group.DialTcpAsync(Somewhere, default);
        WaitForRound(1);
        Assert.Equal("a", group.Current?.Tag);

        Assert.True(group.Pin("b"));
        Assert.Equal("b", group.Pinned);
        Assert.Equal("b", group.Current?.Tag);
        _clock.Advance(Interval);
        WaitForRound(2);
        Assert.Equal("b", group.Current?.Tag); // a probe round does not take it back to the faster member

        _down["b"] = true; // the pinned member fails: the group carries on through another
        _clock.Advance(Interval);
        WaitForRound(3);
        Assert.Equal("a", group.Current?.Tag);
        _down.TryRemove("b", out _); // and returns to it once it answers again
        _clock.Advance(Interval);
        WaitForRound(4);
        Assert.Equal("b", group.Current?.Tag);

        Assert.True(group.Pin(null));
        Assert.Null(group.Pinned);
        Assert.Equal("a", group.Current?.Tag);
        Assert.False(group.Pin("z"));
    }

    [Fact]
    public async Task UrlTest_Pin_IsKeptAcrossARestart_ByTheCacheFile_AndUnpinningForgetsIt()
    {
        _delays["a"] = TimeSpan.FromMilliseconds(10);
        _delays["b"] = TimeSpan.FromMilliseconds(300);
        var dir = Directory.CreateTempSubdirectory("sluice-pin-test-");
        try
        {
            var options = new CacheFileOptions(Path.Combine(dir.FullName, "cache.json"), "", StoreFakeIp: false);
            // First run: the dashboard pins the slower member.
            using (var cache = Sluice.Core.State.CacheFile.Open(options, NullLogger.Instance, _clock))
            using (var group = Group(tolerance: TimeSpan.Zero))
            {
                EngineMode.RememberSelections([group], cache);
                Assert.True(group.Pin("b"));
            }
            // Second run (a restart: new group, file read again): new flows go through the pinned member from the start.
            using (var cache = Sluice.Core.State.CacheFile.Open(options, NullLogger.Instance, _clock))
            using (var group = Group(tolerance: TimeSpan.Zero))
            {
                EngineMode.RememberSelections([group], cache);
                Assert.Equal("b", group.Pinned);
                await group.DialTcpAsync(Somewhere, default);
                WaitForRound(1);
                Assert.Equal("b", group.Current?.Tag);
                Assert.True(group.Pin(null)); // DELETE /proxies/auto
            }
            // Third run: forgotten; the group picks the faster member by its probes.
            using (var cache = Sluice.Core.State.CacheFile.Open(options, NullLogger.Instance, _clock))
            using (var group = Group(tolerance: TimeSpan.Zero))
            {
                EngineMode.RememberSelections([group], cache);
                Assert.Null(group.Pinned);
                await group.DialTcpAsync(Somewhere, default);
                WaitForRound(2);
                Assert.Equal("a", group.Current?.Tag);
            }
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private sealed class StubOutbound(string tag) : IOutbound
    {
        public string Tag => tag;
        public string Type => "stub";
        public ValueTask<Stream> DialTcpAsync(Destination destination, CancellationToken cancellationToken) => ValueTask.FromResult<Stream>(new MemoryStream());
        public ValueTask<IUdpChannel> OpenUdpAsync(Destination destination, CancellationToken cancellationToken) => throw new NotSupportedException();
        public void Dispose() { }
    }
}
