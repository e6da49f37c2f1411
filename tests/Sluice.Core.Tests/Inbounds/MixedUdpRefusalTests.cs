using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Core.Configuration;
using Sluice.Core.Inbounds.Mixed;
using Sluice.Core.Monitoring;
using Sluice.Core.Outbounds;
using Sluice.Core.Routing;
using Sluice.Core.Stack;
using Sluice.Tests;

using Sluice.Core.Tests.Stack;

namespace Sluice.Core.Tests.Inbounds;

/// <summary>
/// SOCKS5 UDP through the mixed inbound when the lane carries TCP only: refused (never dialed, never sent another
/// way), counted per lane in the same count `sluice status` shows for the TUN's refusals, and logged once.
/// </summary>
public sealed class MixedUdpRefusalTests
{
    [Fact]
    public async Task UdpAssociate_OnATcpOnlyLane_IsRefused_Counted_AndLogged()
    {
        var lane = new UdpRecordingOutbound("web-proxy", carriesUdp: false);
        var log = new LogLines();
        var (inbound, admission) = Start(lane, RouteOptions.Empty, log);
        using var _ = inbound;

        var (reply, _) = await AssociateAsync(inbound);

        Assert.Equal(2, reply); // "connection not allowed by ruleset"
        Assert.Equal(1, admission.UdpRefusedByLane["web-proxy"]);
        Assert.Equal(0, lane.Opened);
        Assert.Contains(log.Lines, l => l.Contains("=> web-proxy: UDP refused on lane web-proxy (it carries TCP only); the UDP ASSOCIATE is refused", StringComparison.Ordinal));
    }

    /// <summary>Positive control: the same request on a lane that carries UDP is granted and counts nothing.</summary>
    [Fact]
    public async Task UdpAssociate_OnAUdpLane_IsGranted()
    {
        var lane = new UdpRecordingOutbound("vless", carriesUdp: true);
        var (inbound, admission) = Start(lane, RouteOptions.Empty, new LogLines());
        using var _ = inbound;

        Assert.Equal(0, (await AssociateAsync(inbound)).Reply);
        Assert.Empty(admission.UdpRefusedByLane);
    }

    /// <summary>With rules some destinations may take a UDP lane, so the association is granted; a destination routed to the TCP-only lane is refused there.</summary>
    [Fact]
    public async Task WithRules_ADatagramRoutedToATcpOnlyLane_IsDropped_Counted_AndNeverDialed()
    {
        var lane = new UdpRecordingOutbound("web-proxy", carriesUdp: false);
        var route = ConfigLoader.Load("""
            {"outbounds": [{"type": "direct", "tag": "web-proxy"}],
             "route": {"rules": [{"port": 53, "outbound": "web-proxy"}], "final": "web-proxy"}}
            """).Route;
        var (inbound, admission) = Start(lane, route, new LogLines());
        using var _ = inbound;
        using var control = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        var (reply, relay) = await AssociateAsync(inbound, control);
        Assert.Equal(0, reply);
        using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        byte[] datagram = [0, 0, 0, 1, 203, 0, 113, 10, 0x01, 0xbb, .. "quic?"u8];
        await udp.SendToAsync(datagram, relay);
        for (int i = 0; i < 100 && !admission.UdpRefusedByLane.ContainsKey("web-proxy"); i++) await Task.Delay(20);

        Assert.Equal(1, admission.UdpRefusedByLane["web-proxy"]);
        Assert.Equal(0, lane.Opened);
    }

    private static (MixedInbound Inbound, FlowAdmission Admission) Start(IOutbound lane, RouteOptions route, LogLines log)
    {
        var lanes = new LaneSelector(Router.Compile(route, [lane.Tag], lane.Tag), new Dictionary<string, IOutbound> { [lane.Tag] = lane },
            lane.Tag, false, NullLogger.Instance);
        var admission = new FlowAdmission(lanes, new ConnectionRegistry(TimeProvider.System), log.CreateLogger("route"));
        var inbound = new MixedInbound(new MixedInboundOptions("mixed-in", IPAddress.Loopback, 0, []), admission, null, new PlainSockets().Hosts, new PlainSockets(),
            new RelayBuffers(EngineLimits.Default), NullLogger.Instance);
        inbound.Start();
        return (inbound, admission);
    }

    /// <summary>SOCKS5 greeting (no auth) and UDP ASSOCIATE 0.0.0.0:0 on <paramref name="control"/> (kept open), else on a socket closed after; the reply code and relay address.</summary>
    private static async Task<(byte Reply, IPEndPoint Relay)> AssociateAsync(MixedInbound inbound, Socket? control = null)
    {
        var socket = control ?? new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(inbound.BoundEndPoint);
            await socket.SendAsync(new byte[] { 5, 1, 0 });
            var buffer = new byte[32];
            await ReceiveExactlyAsync(socket, buffer.AsMemory(0, 2));
            await socket.SendAsync(new byte[] { 5, 3, 0, 1, 0, 0, 0, 0, 0, 0 });
            await ReceiveExactlyAsync(socket, buffer.AsMemory(0, 10));
            return (buffer[1], new IPEndPoint(new IPAddress(buffer.AsSpan(4, 4)), (buffer[8] << 8) | buffer[9]));
        }
        finally
        {
            if (control is null) socket.Dispose();
        }
    }

    private static async Task ReceiveExactlyAsync(Socket socket, Memory<byte> buffer)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        for (int have = 0; have < buffer.Length;)
        {
            int n = await socket.ReceiveAsync(buffer[have..], SocketFlags.None, timeout.Token);
            if (n == 0) throw new IOException("the inbound closed the connection");
            have += n;
        }
    }
}
