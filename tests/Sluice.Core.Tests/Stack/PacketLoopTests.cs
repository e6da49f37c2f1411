using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Core.Configuration;
using Sluice.Core.Monitoring;
using Sluice.Core.Outbounds;
using Sluice.Core.Routing;
using Sluice.Core.Stack;
using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Core.Tests.Stack;

/// <summary>
/// The packet path driven synchronously over an in-memory TUN and a fake clock: no root, no namespaces.
/// Apps send from the TUN address 172.19.0.1; the NAT answers as 172.19.0.2; the relay listener is
/// pretended to sit on port 40000 (the kernel side of the NAT is played by the test).
/// </summary>
public sealed partial class PacketLoopTests : IDisposable
{
    private static readonly NetAddress App = NetAddress.Parse("172.19.0.1");
    private static readonly NetAddress NatPeer = NetAddress.Parse("172.19.0.2");
    private static readonly NetAddress Server = NetAddress.Parse("203.0.113.10");
    private const ushort ListenPort = 40000;

    private readonly ChannelTun _tun = new();
    private readonly FakeClock _clock = new();
    private readonly TcpNat _nat = new(App, NatPeer) { ListenPort = ListenPort };
    private readonly UdpSessions _udp;
    private readonly PacketLoop _loop;
    private readonly L3Lanes _l3;
    private readonly LaneSelector _lanes;
    private readonly ConnectionRegistry _connections;
    private readonly Sluice.Tests.LogLines _logs = new();
    private readonly PacketBatch _batch = new(64, 1600);
    private readonly RecordingLane _lane;

    public PacketLoopTests()
    {
        var config = ConfigLoader.Load("""
            {
              "outbounds": [{"type": "direct", "tag": "direct"}, {"type": "block", "tag": "wg"}],
              "route": {
                "rules": [
                  {"network": ["tcp"], "port": [8443], "outbound": "wg"},
                  {"network": ["tcp"], "port": [81], "action": "reject"},
                  {"network": ["udp"], "port": [9999], "action": "reject"}
                ],
                "final": "direct"
              }
            }
            """);
        // "wg" is declared so the rules may name it; the packet path gets an L3 lane that records in its place.
        _lane = new RecordingLane("wg", () => _clock.Milliseconds());
        var outbounds = new Dictionary<string, IOutbound> { ["direct"] = OutboundRegistry.Create(config.Outbounds[0], new PlainSockets()), ["wg"] = _lane };
        var lanes = _lanes = new LaneSelector(Router.Compile(config.Route, ["direct", "wg"], "direct"), outbounds, "direct", dnsServerRunning: false, NullLogger.Instance);
        var connections = _connections = new ConnectionRegistry(_clock);
        var admission = new FlowAdmission(lanes, connections, _logs.CreateLogger("route"));
        _udp = new UdpSessions(_tun, admission, null, NullLogger.Instance, _clock, EngineLimits.Default);
        var inbound = new TunInbound("tun-in", [IpPrefix.Parse("172.19.0.1/30")], null, null, admission);
        _l3 = new L3Lanes(_tun, inbound, NullLogger.Instance, EngineLimits.Default);
        _loop = new PacketLoop(_tun, new TcpNatPath(_tun, _nat, null, inbound, _l3, NullLogger.Instance), _udp,
            new IcmpPath(_tun, null, null, inbound, _l3, EngineLimits.Default), _l3, inbound, NullLogger.Instance, EngineLimits.Default, _clock);
    }

    [Fact]
    public void TcpSyn_IsRewrittenToTheRelayListener_AndTheKernelsAnswer_BackToTheApp()
    {
        Send(Tcp(App, 50000, Server, 80, TcpFlags.Syn));
        var towardsRelay = Next();
        Assert.Equal((NatPeer, App, ListenPort), (towardsRelay.Source, towardsRelay.Destination, TcpOf(towardsRelay).DestinationPort));
        Assert.True(Checksum.VerifyTransport(in towardsRelay));
        ushort natPort = TcpOf(towardsRelay).SourcePort;

        // The kernel's SYN-ACK from the listener, as it would read it from the TUN.
        Send(Tcp(App, ListenPort, NatPeer, natPort, TcpFlags.Syn | TcpFlags.Ack));
        var towardsApp = Next();
        var segment = TcpOf(towardsApp);
        Assert.Equal((Server, App), (towardsApp.Source, towardsApp.Destination));
        Assert.Equal((80, 50000), ((int)segment.SourcePort, (int)segment.DestinationPort));
        Assert.Equal(TcpFlags.Syn | TcpFlags.Ack, segment.Flags & (TcpFlags.Syn | TcpFlags.Ack));
        Assert.True(Checksum.VerifyTransport(in towardsApp));
    }

    [Fact]
    public void AppReusingAFinishedFlowsTuple_GetsANewFlowOnAFreshNatPort_WhileAResentSynKeepsItsEntry()
    {
        Send(Tcp(App, 50040, Server, 80, TcpFlags.Syn, sequence: 1000));
        ushort first = TcpOf(Next()).SourcePort;
        Send(Tcp(App, 50040, Server, 80, TcpFlags.Syn, sequence: 1000)); // the SYN-ACK was lost: the same connection
        Assert.Equal(first, TcpOf(Next()).SourcePort);

        // The relay took that connection and finished; its entry lingers for the closing handshake.
        var old = _nat.FindByPort(first)!;
        old.Accepted = true;
        old.ClosedAt = _clock.Milliseconds();

        // TIME_WAIT reuse: the app opens a new connection on the same 4-tuple with a new initial sequence number.
        Send(Tcp(App, 50040, Server, 80, TcpFlags.Syn, sequence: 777_000));
        var towardsRelay = Next();
        ushort second = TcpOf(towardsRelay).SourcePort;
        Assert.NotEqual(first, second);
        Assert.Equal((NatPeer, App, ListenPort), (towardsRelay.Source, towardsRelay.Destination, TcpOf(towardsRelay).DestinationPort));
        var fresh = _nat.FindByPort(second)!;
        Assert.NotSame(old, fresh);
        Assert.NotSame(old.Flow, fresh.Flow); // routed again, as a new flow
        Assert.Equal(777_000u, fresh.SynSequence);

        // The old connection's late FIN from the listener must not reach the app's new connection.
        Send(Tcp(App, ListenPort, NatPeer, first, TcpFlags.Fin | TcpFlags.Ack));
        Assert.False(_tun.TryTake(out _));
        Assert.Null(_nat.FindByPort(first));
    }

    [Fact]
    public void TcpSegmentWithoutState_IsAnsweredWithRst_FromTheServersAddress()
    {
        Send(Tcp(App, 50001, Server, 80, TcpFlags.Ack));
        var reset = Next();
        var segment = TcpOf(reset);
        Assert.Equal((Server, App), (reset.Source, reset.Destination));
        Assert.Equal((80, 50001), ((int)segment.SourcePort, (int)segment.DestinationPort));
        Assert.NotEqual(0, (int)(segment.Flags & TcpFlags.Rst));
        Assert.Equal(0, _nat.Count);
    }

    [Fact]
    public void TcpSyn_ToARejectedPort_IsRefusedWithRst_AndGetsNoNatEntry()
    {
        Send(Tcp(App, 50002, Server, 81, TcpFlags.Syn));
        var segment = TcpOf(Next());
        Assert.NotEqual(0, (int)(segment.Flags & TcpFlags.Rst));
        Assert.Equal(0, _nat.Count);
        Assert.False(_tun.TryTake(out _));
    }

    [Fact]
    public void UdpDatagram_ToARejectedPort_IsRefusedWithIcmpAdminProhibited()
    {
        Send(Udp(App, 50003, Server, 9999, "hello"u8));
        var refusal = Next();
        Assert.Equal(IpProtocol.Icmp, refusal.Protocol);
        Assert.True(IcmpMessage.TryParse(refusal.Payload, out var icmp));
        Assert.Equal((3, IcmpCodes.V4AdministrativelyProhibited), ((int)icmp.Type, (int)icmp.Code));
        Assert.Equal((Server, App), (refusal.Source, refusal.Destination));
    }

    [Fact]
    public void UdpSession_CarriesDatagramsBothWays_AndIsClosedOnceIdlePastTheLimit()
    {
        using var echo = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        echo.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        ushort port = (ushort)((IPEndPoint)echo.LocalEndPoint!).Port;
        var loopback = NetAddress.Parse("127.0.0.1");

        Send(Udp(App, 50004, loopback, port, "ping"u8));
        var buffer = new byte[100];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        echo.ReceiveTimeout = 5000;
        int n = echo.ReceiveFrom(buffer, ref from);
        Assert.Equal("ping", System.Text.Encoding.ASCII.GetString(buffer, 0, n));
        echo.SendTo("pong"u8, from);

        var reply = Next();
        Assert.True(UdpDatagram.TryParse(reply.Payload, out var datagram));
        Assert.Equal((loopback, App), (reply.Source, reply.Destination));
        Assert.Equal((port, 50004), ((int)datagram.SourcePort, (int)datagram.DestinationPort));
        Assert.Equal("pong", System.Text.Encoding.ASCII.GetString(datagram.Payload));
        Assert.True(Checksum.VerifyTransport(in reply));
        Assert.Equal(1, _udp.Count);

        long lastActive = _clock.Milliseconds();
        _clock.Advance(EngineLimits.Default.UdpIdle - TimeSpan.FromSeconds(1));
        _udp.Sweep(_clock.Milliseconds());
        Assert.Equal(1, _udp.Count);
        // The engine's sweeper sleeps until then: the session's idle deadline, as of its last datagram.
        Assert.InRange(_udp.NextExpiry - lastActive, (long)EngineLimits.Default.UdpIdle.TotalMilliseconds - 1000, (long)EngineLimits.Default.UdpIdle.TotalMilliseconds);
        _clock.Advance(TimeSpan.FromSeconds(2));
        _udp.Sweep(_clock.Milliseconds());
        Assert.Equal(0, _udp.Count);
        Assert.Equal(long.MaxValue, _udp.NextExpiry); // nothing left: no wake-up at all
    }

    [Fact]
    public void L3Sweep_ForgetsATunnelFlowIdlePastItsLimit_SoItsNextSegmentIsReset()
    {
        Send(Tcp(App, 50020, Server, 8443, TcpFlags.Syn));
        Assert.Single(_lane.Sent);
        long seen = _clock.Milliseconds();
        _clock.Advance(EngineLimits.Default.L3TcpIdle - TimeSpan.FromSeconds(1));
        _l3.Sweep(_clock.Milliseconds());
        Assert.Empty(_lane.Forgotten);
        Assert.Equal(seen + (long)EngineLimits.Default.L3TcpIdle.TotalMilliseconds, _l3.NextExpiry); // the sweeper's next deadline
        _clock.Advance(TimeSpan.FromSeconds(2));
        _l3.Sweep(_clock.Milliseconds());
        Assert.Single(_lane.Forgotten);
        Assert.Equal(long.MaxValue, _l3.NextExpiry);

        Send(Tcp(App, 50020, Server, 8443, TcpFlags.Ack));
        Assert.NotEqual(0, (int)(TcpOf(Next()).Flags & TcpFlags.Rst));
        Assert.Single(_lane.Sent);
    }

    [Fact]
    public void L3Sweep_ForgetsAClosedTcpFlow_AGraceAfterItsLastAck_NotAfterTheIdleTimeout()
    {
        // A short connection through the tunnel: handshake, a FIN each way, the app's last ACK.
        Send(Tcp(App, 50022, Server, 8443, TcpFlags.Syn));
        var flow = Assert.Single(_lane.Opened);
        _lane.Receive(flow, Tcp(Server, 8443, App, 50022, TcpFlags.Syn | TcpFlags.Ack));
        Send(Tcp(App, 50022, Server, 8443, TcpFlags.Ack | TcpFlags.Fin));
        _lane.Receive(flow, Tcp(Server, 8443, App, 50022, TcpFlags.Ack | TcpFlags.Fin));
        Send(Tcp(App, 50022, Server, 8443, TcpFlags.Ack));
        Assert.Single(_connections.Snapshot());

        _clock.Advance(EngineLimits.Default.L3TcpClosedGrace - TimeSpan.FromSeconds(1));
        _l3.Sweep(_clock.Milliseconds());
        Assert.Empty(_lane.Forgotten); // a resent FIN or the last ACK still passes
        _clock.Advance(TimeSpan.FromSeconds(2));
        _l3.Sweep(_clock.Milliseconds());

        Assert.Same(flow, Assert.Single(_lane.Forgotten));
        Assert.Empty(_connections.Snapshot());
        Assert.Equal(0, _l3.Count);
    }

    [Fact]
    public void L3Sweep_ForgetsAResetTcpFlow_AGraceAfterTheRst()
    {
        Send(Tcp(App, 50023, Server, 8443, TcpFlags.Syn));
        var flow = Assert.Single(_lane.Opened);
        _lane.Receive(flow, Tcp(Server, 8443, App, 50023, TcpFlags.Rst | TcpFlags.Ack));

        _clock.Advance(EngineLimits.Default.L3TcpClosedGrace + TimeSpan.FromSeconds(1));
        _l3.Sweep(_clock.Milliseconds());

        Assert.Single(_lane.Forgotten);
        Assert.Empty(_connections.Snapshot());
    }

    [Fact]
    public void L3Sweep_KeepsAHalfClosedTcpFlow_AndAReusedTuple_UntilTheIdleTimeout()
    {
        // The app shut down its sending side only: the server may go on sending for as long as it likes.
        Send(Tcp(App, 50024, Server, 8443, TcpFlags.Syn));
        Send(Tcp(App, 50024, Server, 8443, TcpFlags.Ack | TcpFlags.Fin));
        // A connection ended with a RST, and the app opened a new one on the same ports at once.
        Send(Tcp(App, 50025, Server, 8443, TcpFlags.Syn));
        var reused = _lane.Opened[1];
        _lane.Receive(reused, Tcp(Server, 8443, App, 50025, TcpFlags.Rst | TcpFlags.Ack));
        Send(Tcp(App, 50025, Server, 8443, TcpFlags.Syn, sequence: 9000));

        _clock.Advance(EngineLimits.Default.L3TcpClosedGrace + TimeSpan.FromSeconds(1));
        _l3.Sweep(_clock.Milliseconds());

        Assert.Empty(_lane.Forgotten);
        Assert.Equal(2, _connections.Snapshot().Count);
    }

    [Fact]
    public void L3Sweep_KeepsAFlowTheEnginePinned_WhileItsStreamIsOpen()
    {
        var key = new FlowKey(IpProtocol.Tcp, App, 50021, Server, 8443);
        _l3.Pin(key, _lane.Open(key)!);
        _clock.Advance(EngineLimits.Default.L3TcpIdle + TimeSpan.FromMinutes(1));
        _l3.Sweep(_clock.Milliseconds());
        Assert.Empty(_lane.Forgotten);

        Send(Tcp(App, 50021, Server, 8443, TcpFlags.Ack));
        Assert.Single(_lane.Sent);
        Assert.False(_tun.TryTake(out _));
        _l3.Unpin(key);
    }

    [Fact]
    public void EveryRefusal_IsLoggedOnce_NamingInboundFlowActionAndRule()
    {
        Send(Tcp(App, 50030, Server, 81, TcpFlags.Syn));
        Send(Udp(App, 50031, Server, 9999, "hello"u8));

        var refused = _logs.Lines.Where(l => l.Contains("=> reject", StringComparison.Ordinal)).ToArray();
        Assert.Equal(2, refused.Length);
        Assert.Contains(refused, l => l.StartsWith("route: tun-in: tcp", StringComparison.Ordinal) && l.Contains(":81", StringComparison.Ordinal) && l.Contains("(rule 1)", StringComparison.Ordinal));
        Assert.Contains(refused, l => l.StartsWith("route: tun-in: udp", StringComparison.Ordinal) && l.Contains(":9999", StringComparison.Ordinal) && l.Contains("(rule 2)", StringComparison.Ordinal));
    }

    [Fact]
    public void TunnelFlow_IsAdmittedOnce_LoggedAndListedOnItsLane_UntilSwept()
    {
        Send(Tcp(App, 50032, Server, 8443, TcpFlags.Syn));
        Send(Tcp(App, 50032, Server, 8443, TcpFlags.Ack));

        Assert.Equal(2, _lane.Sent.Count);
        Assert.Single(_logs.Lines, l => l.StartsWith("route: tun-in: tcp", StringComparison.Ordinal) && l.Contains("=> wg (rule 0)", StringComparison.Ordinal));
        var listed = Assert.Single(_connections.Snapshot());
        Assert.Equal(("wg", "tun-in"), (listed.Lane, listed.Inbound));
        _clock.Advance(EngineLimits.Default.L3TcpIdle + TimeSpan.FromSeconds(1));
        _l3.Sweep(_clock.Milliseconds());
        Assert.Empty(_connections.Snapshot());
    }

    [Fact]
    public void UdpDatagramV6_ToARejectedPort_IsRefusedWithIcmpV6AdminProhibited()
    {
        var app6 = NetAddress.Parse("fdfe:dcba:9876::1");
        var server6 = NetAddress.Parse("2001:db8::10");
        Send(Udp(app6, 50033, server6, 9999, "hello"u8));
        var refusal = Next();
        Assert.Equal(IpProtocol.IcmpV6, refusal.Protocol);
        Assert.True(IcmpMessage.TryParse(refusal.Payload, out var icmp));
        Assert.Equal((1, IcmpCodes.V6AdministrativelyProhibited), ((int)icmp.Type, (int)icmp.Code));
        Assert.Equal((server6, app6), (refusal.Source, refusal.Destination));
    }

    [Fact]
    public void PublishedRoutingModel_DecidesTheNextSyn_WhileAFlowOpenedBeforeKeepsItsNatEntry()
    {
        Send(Tcp(App, 50034, Server, 80, TcpFlags.Syn));
        ushort natPort = TcpOf(Next()).SourcePort;

        // The reload's new rules refuse port 80.
        var next = ConfigLoader.Load("""
            {"outbounds": [{"type": "direct", "tag": "direct"}], "route": {"rules": [{"port": [80], "action": "reject"}], "final": "direct"}}
            """);
        var model = _lanes.Model;
        _lanes.Publish(new RoutingModel(Router.Compile(next.Route, ["direct"], "direct"), model.Outbounds, "direct"));

        Send(Tcp(App, 50034, Server, 80, TcpFlags.Ack));
        var kept = Next();
        Assert.Equal((NatPeer, App, natPort), (kept.Source, kept.Destination, TcpOf(kept).SourcePort));
        Send(Tcp(App, 50035, Server, 80, TcpFlags.Syn));
        Assert.NotEqual(0, (int)(TcpOf(Next()).Flags & TcpFlags.Rst));
        Assert.Equal(1, _nat.Count);
    }

    public void Dispose()
    {
        _udp.Dispose();
        _tun.Dispose();
    }

    private void Send(byte[] packet)
    {
        _tun.Inject(packet);
        _tun.ReadReady(_batch);
        _loop.Process(_batch, _clock.Milliseconds());
    }

    /// <summary>The next packet written towards the apps, parsed.</summary>
    private IpPacket Next()
    {
        byte[] packet = _tun.Take(TimeSpan.FromSeconds(5));
        Assert.True(IpPacket.TryParse(packet, out var ip));
        return ip;
    }

    internal static TcpSegment TcpOf(in IpPacket packet)
    {
        Assert.True(TcpSegment.TryParse(packet.Payload, out var segment));
        return segment;
    }

    internal static byte[] Tcp(NetAddress source, ushort sourcePort, NetAddress destination, ushort destinationPort, TcpFlags flags, uint sequence = 1000,
        byte[]? payload = null)
    {
        payload ??= [];
        var packet = Ipv4Header(source, destination, IpProtocol.Tcp, 20 + payload.Length);
        var tcp = packet.AsSpan(20);
        BinaryPrimitives.WriteUInt16BigEndian(tcp, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], destinationPort);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], sequence);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[8..], (flags & TcpFlags.Ack) != 0 ? 2000u : 0u);
        tcp[12] = 0x50;
        tcp[13] = (byte)flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], 65535);
        payload.CopyTo(tcp[20..]);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], Checksum.PseudoHeaderTransport(source, destination, IpProtocol.Tcp, tcp));
        return packet;
    }

    internal static byte[] Udp(NetAddress source, ushort sourcePort, NetAddress destination, ushort destinationPort, ReadOnlySpan<byte> payload)
    {
        var packet = new byte[48 + payload.Length];
        int n = PacketBuilder.Udp(packet, source, sourcePort, destination, destinationPort, payload);
        return packet[..n];
    }

    private static byte[] Ipv4Header(NetAddress source, NetAddress destination, byte protocol, int payloadLength)
    {
        var packet = new byte[20 + payloadLength];
        packet[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)packet.Length);
        packet[8] = 64;
        packet[9] = protocol;
        source.WriteTo(packet.AsSpan(12));
        destination.WriteTo(packet.AsSpan(16));
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(10), Checksum.Compute(packet.AsSpan(0, 20)));
        return packet;
    }
}
