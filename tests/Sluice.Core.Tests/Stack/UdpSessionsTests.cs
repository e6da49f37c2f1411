using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Core.Monitoring;
using Sluice.Core.Outbounds;
using Sluice.Core.Routing;
using Sluice.Core.Stack;
using Sluice.Packets;

namespace Sluice.Core.Tests.Stack;

/// <summary>User-space UDP sessions at their edges: after the engine stopped, and when an outbound fails in a way nobody listed.</summary>
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

    private static (UdpSessions Sessions, ConnectionRegistry Connections) Sessions(LogLines logs)
    {
        var clock = new FakeClock();
        var connections = new ConnectionRegistry(clock);
        var lanes = new LaneSelector(Router.Compile(Sluice.Core.Configuration.RouteOptions.Empty, ["out"], "out"), new Dictionary<string, IOutbound>(), "out", false, NullLogger.Instance);
        return (new UdpSessions(new ChannelTun(), new FlowAdmission(lanes, connections, NullLogger.Instance), null, logs.CreateLogger("udp"), clock, EngineLimits.Default), connections);
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
