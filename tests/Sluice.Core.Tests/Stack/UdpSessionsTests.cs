using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Core.Monitoring;
using Sluice.Core.Outbounds;
using Sluice.Core.Routing;
using Sluice.Core.Stack;
using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Core.Tests.Stack;

/// <summary>
/// User-space UDP sessions at their edges: after the engine stopped, when an outbound fails in a way nobody
/// listed, and at the session cap (issue 17, finding 7: a flood of distinct flows must not grow the table).
/// </summary>
public sealed class UdpSessionsTests
{
    private static readonly NetAddress App = NetAddress.Parse("172.19.0.1");
    private static readonly NetAddress Server = NetAddress.Parse("203.0.113.10");

    [Fact]
    public void SessionOpenedAfterDispose_IsRefused_SoNoSocketOutlivesTheEngine()
    {
        var outbound = new FailingOutbound(new InvalidOperationException("must not be dialed"));
        var (udp, _) = Sessions(new LogLines());
        udp.Dispose();

        Open(udp, outbound, 50010);

        Assert.Equal(0, udp.Count);
        Assert.Equal(0, outbound.Opened);
    }

    [Fact]
    public async Task OutboundFailingWithAnUnlistedException_IsLogged_AndTheSessionRemoved()
    {
        var logs = new LogLines();
        var (udp, connections) = Sessions(logs);
        Open(udp, new FailingOutbound(new InvalidOperationException("handshake state broken")), 50011);

        for (int i = 0; i < 100 && udp.Count > 0; i++) await Task.Delay(20);
        Assert.Equal(0, udp.Count);
        Assert.Empty(connections.Snapshot());
        Assert.Contains(logs.Lines, l => l.StartsWith("udp: ", StringComparison.Ordinal) && l.Contains("172.19.0.1:50011", StringComparison.Ordinal)
            && l.Contains("InvalidOperationException", StringComparison.Ordinal) && l.Contains("handshake state broken", StringComparison.Ordinal));
        udp.Dispose();
    }

    [Fact]
    public void AtTheSessionCap_TheLeastRecentlyActiveSessionIsClosed_AndCounted_WhileTheTableStaysAtTheCap()
    {
        var clock = new FakeClock();
        var outbound = new SilentOutbound();
        var logs = new LogLines();
        // A cap of 4 evicts one session at a time (a sixteenth, at least one).
        var (udp, connections) = Sessions(logs, clock, EngineLimits.Default with { UdpSessions = 4 });
        clock.Advance(TimeSpan.FromMinutes(1)); // the eviction warning is rate-limited to one per 10 s of the engine clock
        for (ushort port = 50001; port <= 50004; port++)
        {
            Open(udp, outbound, port);
            clock.Advance(TimeSpan.FromSeconds(1));
        }
        // The oldest session (50001) is active again: 50002 is now the least recently active.
        Assert.True(Forward(udp, 50001));
        clock.Advance(TimeSpan.FromSeconds(1));

        Open(udp, outbound, 50005);

        Assert.Equal(4, udp.Count);
        Assert.Equal(1, udp.Evicted);
        Assert.False(Forward(udp, 50002), "the least recently active session (50002) should have been closed");
        foreach (ushort kept in new ushort[] { 50001, 50003, 50004, 50005 }) Assert.True(Forward(udp, kept), $"session {kept} should have been kept");
        Assert.DoesNotContain(connections.Snapshot(), c => c.Key.SourcePort == 50002);
        Assert.Contains(logs.Lines, l => l.Contains("UDP sessions at the limit of 4", StringComparison.Ordinal));

        // A flood of distinct flows keeps the table at the cap; every session beyond it was closed and counted.
        for (ushort port = 51000; port < 51100; port++) Open(udp, outbound, port);
        Assert.Equal(4, udp.Count);
        Assert.Equal(101, udp.Evicted);
        Assert.Equal(105, outbound.Opened);
        udp.Dispose();
    }

    /// <summary>The tun inbound's udp_timeout (sing-box's 5 m in many exported configs) is the idle timeout of its flows' sessions.</summary>
    [Fact]
    public void TheTunInboundsUdpTimeout_KeepsAnIdleSessionPastTheEngineDefault_AndClosesItAfterItsOwn()
    {
        var clock = new FakeClock();
        var (udp, _) = Sessions(new LogLines(), clock);
        var lanes = new LaneSelector(Router.Compile(Sluice.Core.Configuration.RouteOptions.Empty, ["out"], "out"), new Dictionary<string, IOutbound>(), "out", false, NullLogger.Instance);
        var inbound = new TunInbound("tun-in", [IpPrefix.Parse("172.19.0.1/30")], null, null,
            new FlowAdmission(lanes, new ConnectionRegistry(clock), NullLogger.Instance), udpTimeout: TimeSpan.FromMinutes(5));
        var packet = new byte[64];
        int n = PacketBuilder.Udp(packet, App, 50020, Server, 53, "q"u8);
        Assert.True(IpPacket.TryParse(packet.AsSpan(0, n), out var ip));
        var key = new FlowKey(IpProtocol.Udp, App, 50020, Server, 53);
        var outbound = new SilentOutbound();
        var choice = new LaneChoice(LaneKind.Outbound, outbound, new RouteDecision(Verdict.Route, outbound.Tag, -1, 0, TimeSpan.Zero));
        udp.Open(ip, key, inbound.NewFlow(key), choice, "q"u8, new byte[2048]);

        clock.Advance(EngineLimits.Default.UdpIdle + TimeSpan.FromMinutes(2));
        udp.Sweep(clock.Milliseconds());
        Assert.Equal(1, udp.Count);
        clock.Advance(TimeSpan.FromMinutes(3));
        udp.Sweep(clock.Milliseconds());
        Assert.Equal(0, udp.Count);
        udp.Dispose();
    }

    private static (UdpSessions Sessions, ConnectionRegistry Connections) Sessions(LogLines logs, FakeClock? clock = null, EngineLimits? limits = null)
    {
        clock ??= new FakeClock();
        var connections = new ConnectionRegistry(clock);
        var lanes = new LaneSelector(Router.Compile(Sluice.Core.Configuration.RouteOptions.Empty, ["out"], "out"), new Dictionary<string, IOutbound>(), "out", false, NullLogger.Instance);
        return (new UdpSessions(new ChannelTun(), new FlowAdmission(lanes, connections, NullLogger.Instance), null, logs.CreateLogger("udp"), clock, limits ?? EngineLimits.Default), connections);
    }

    /// <summary>An app datagram of a flow that may have a session; true when a session took it.</summary>
    private static bool Forward(UdpSessions udp, ushort sourcePort)
    {
        var packet = new byte[64];
        int n = PacketBuilder.Udp(packet, App, sourcePort, Server, 53, "q"u8);
        Assert.True(IpPacket.TryParse(packet.AsSpan(0, n), out var ip));
        return udp.TryForward(ip, new FlowKey(IpProtocol.Udp, App, sourcePort, Server, 53), "q"u8, new byte[2048]);
    }

    private static void Open(UdpSessions udp, IOutbound outbound, ushort sourcePort)
    {
        var packet = new byte[64];
        int n = PacketBuilder.Udp(packet, App, sourcePort, Server, 53, "q"u8);
        Assert.True(IpPacket.TryParse(packet.AsSpan(0, n), out var ip));
        var key = new FlowKey(IpProtocol.Udp, App, sourcePort, Server, 53);
        var choice = new LaneChoice(LaneKind.Outbound, outbound, new RouteDecision(Verdict.Route, outbound.Tag, -1, 0, TimeSpan.Zero));
        udp.Open(ip, key, new FlowContext(key, "tun-in", null), choice, "q"u8, new byte[2048]);
    }
}
