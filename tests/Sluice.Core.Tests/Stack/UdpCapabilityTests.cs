using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Core.Configuration;
using Sluice.Core.Monitoring;
using Sluice.Core.Outbounds;
using Sluice.Core.Routing;
using Sluice.Core.Stack;
using Sluice.Packets;

namespace Sluice.Core.Tests.Stack;

/// <summary>
/// Which lanes carry UDP, and what a protected app's UDP meets on one that does not: ICMP port unreachable
/// at every datagram, a count per lane, and no channel ever opened (so nothing can leave another way).
/// </summary>
public sealed class UdpCapabilityTests
{
    private static readonly NetAddress App = NetAddress.Parse("172.19.0.1");
    private static readonly NetAddress Server = NetAddress.Parse("203.0.113.10");

    private static readonly SluiceConfig Config = ConfigLoader.Load("""
        {
          "outbounds": [
            {"type": "direct", "tag": "direct"},
            {"type": "http", "tag": "http", "server": "192.0.2.1", "server_port": 8080},
            {"type": "socks", "tag": "socks", "server": "192.0.2.1", "server_port": 1080},
            {"type": "socks", "tag": "socks-tcp", "server": "192.0.2.1", "server_port": 1080, "network": "tcp"},
            {"type": "trojan", "tag": "trojan", "server": "192.0.2.1", "server_port": 443, "password": "p", "tls": {"enabled": true}},
            {"type": "trojan", "tag": "trojan-tcp", "server": "192.0.2.1", "server_port": 443, "password": "p", "network": "tcp", "tls": {"enabled": true}},
            {"type": "vless", "tag": "vless", "server": "192.0.2.1", "server_port": 443, "uuid": "b831381d-6324-4d53-ad4f-8cda48b30811", "tls": {"enabled": true}},
            {"type": "vless", "tag": "vless-tcp", "server": "192.0.2.1", "server_port": 443, "uuid": "b831381d-6324-4d53-ad4f-8cda48b30811", "network": "tcp", "tls": {"enabled": true}},
            {"type": "shadowsocks", "tag": "ss", "server": "192.0.2.1", "server_port": 8388, "method": "aes-128-gcm", "password": "p"},
            {"type": "shadowsocks", "tag": "ss-tcp", "server": "192.0.2.1", "server_port": 8388, "method": "aes-128-gcm", "password": "p", "network": "tcp"},
            {"type": "selector", "tag": "pick", "outbounds": ["vless", "http"], "default": "http"}
          ],
          "route": {"final": "pick"}
        }
        """);

    private readonly Dictionary<string, IOutbound> _outbounds = new(StringComparer.Ordinal);

    public UdpCapabilityTests()
    {
        var context = new OutboundContext(new PlainSockets(), Resolve: t => _outbounds.GetValueOrDefault(t));
        foreach (var options in Config.Outbounds) _outbounds[options.Tag] = OutboundRegistry.Create(options, context);
    }

    [Theory]
    [InlineData("direct", true)]
    [InlineData("http", false)]
    [InlineData("socks", true)]
    [InlineData("socks-tcp", false)]
    [InlineData("trojan", true)]
    [InlineData("trojan-tcp", false)]
    [InlineData("vless", true)]
    [InlineData("vless-tcp", false)]
    [InlineData("ss", true)]
    [InlineData("ss-tcp", false)]
    public void Lane_SaysWhetherItCarriesUdp(string tag, bool udp) => Assert.Equal(udp, _outbounds[tag].CarriesUdp);

    [Fact]
    public void SelectorGroup_CarriesUdp_ExactlyWhenItsChosenMemberDoes()
    {
        var group = _outbounds["pick"];
        Assert.False(group.CarriesUdp); // default: the HTTP proxy
        Assert.True(EngineViews.Select(group, "vless"));
        Assert.True(group.CarriesUdp);
        var view = EngineViews.Group(group)!;
        Assert.Equal("vless", view.Now);
        Assert.Equal([("vless", "vless", true), ("http", "http", false)], view.Members.Select(m => (m.Tag, m.Type, m.Udp)).ToArray());
    }

    [Fact]
    public void UdpToATcpOnlyLane_IsAnsweredPortUnreachable_AtEveryDatagram_CountedOnce_AndNeverDialed()
    {
        var lane = new UdpRecordingOutbound("tcp-only", carriesUdp: false);
        var (udp, tun) = Sessions(lane);
        var key = new FlowKey(IpProtocol.Udp, App, 40000, Server, 443);

        Open(udp, lane, key, out var first);
        AssertPortUnreachable(tun.Take(TimeSpan.FromSeconds(1)), first);
        Assert.True(Forward(udp, key, out var second));
        AssertPortUnreachable(tun.Take(TimeSpan.FromSeconds(1)), second);

        Assert.Equal(0, lane.Opened);
        Assert.Equal(1, udp.RefusedByLane["tcp-only"]);
        udp.Dispose();
    }

    [Fact]
    public void UdpThroughASelectorOnAnHttpProxy_IsRefused_AndCountedOnTheMember_ThenCarriedOnceAUdpLaneIsPicked()
    {
        var (udp, tun) = Sessions(_outbounds["pick"]);
        var refusedKey = new FlowKey(IpProtocol.Udp, App, 40001, Server, 443);
        Open(udp, _outbounds["pick"], refusedKey, out var packet);
        AssertPortUnreachable(tun.Take(TimeSpan.FromSeconds(1)), packet);
        Assert.Equal(1, udp.RefusedByLane["http"]);

        // Positive control: the same path with a UDP-carrying member chosen answers nothing itself (it dials the lane).
        Assert.True(EngineViews.Select(_outbounds["pick"], "vless"));
        Open(udp, _outbounds["pick"], refusedKey with { SourcePort = 40002 }, out _);
        Assert.False(tun.TryTake(out _));
        Assert.False(udp.RefusedByLane.ContainsKey("vless"));
        udp.Dispose();
    }

    private static void AssertPortUnreachable(byte[] answer, byte[] offending)
    {
        Assert.True(IpPacket.TryParse(answer, out var ip));
        Assert.Equal(IpProtocol.Icmp, ip.Protocol);
        Assert.Equal(Server, ip.Source);
        Assert.Equal(App, ip.Destination);
        var icmp = ip.Payload;
        Assert.Equal(3, icmp[0]); // destination unreachable
        Assert.Equal(3, icmp[1]); // port unreachable: the app's socket sees ECONNREFUSED
        Assert.Equal(offending.AsSpan(0, 20).ToArray(), icmp.Slice(8, 20).ToArray()); // quotes the app's datagram
    }

    private static (UdpSessions Sessions, ChannelTun Tun) Sessions(IOutbound lane)
    {
        var clock = new FakeClock();
        var tun = new ChannelTun();
        var lanes = new LaneSelector(Router.Compile(RouteOptions.Empty, [lane.Tag], lane.Tag), new Dictionary<string, IOutbound> { [lane.Tag] = lane },
            lane.Tag, false, NullLogger.Instance);
        return (new UdpSessions(tun, new FlowAdmission(lanes, new ConnectionRegistry(clock), NullLogger.Instance), null, NullLogger.Instance, clock, EngineLimits.Default), tun);
    }

    private static byte[] Datagram(FlowKey key)
    {
        var packet = new byte[64];
        int n = PacketBuilder.Udp(packet, key.Source, key.SourcePort, key.Destination, key.DestinationPort, "quic?"u8);
        return packet[..n];
    }

    private static void Open(UdpSessions udp, IOutbound outbound, FlowKey key, out byte[] packet)
    {
        packet = Datagram(key);
        Assert.True(IpPacket.TryParse(packet, out var ip));
        var choice = new LaneChoice(LaneKind.Outbound, outbound, new RouteDecision(Verdict.Route, outbound.Tag, -1, 0, TimeSpan.Zero));
        udp.Open(ip, key, new FlowContext(key, "tun-in", null), choice, "quic?"u8, new byte[2048]);
    }

    private static bool Forward(UdpSessions udp, FlowKey key, out byte[] packet)
    {
        packet = Datagram(key);
        Assert.True(IpPacket.TryParse(packet, out var ip));
        return udp.TryForward(ip, key, "quic?"u8, new byte[2048]);
    }
}
