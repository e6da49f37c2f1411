using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Core.Configuration;
using Sluice.Core.Monitoring;
using Sluice.Core.Outbounds;
using Sluice.Core.Routing;
using Sluice.Core.Stack;
using Sluice.Core.Tun;
using Sluice.Packets;
using static Sluice.Core.Tests.Stack.PacketLoopTests;

namespace Sluice.Core.Tests.Stack;

/// <summary>
/// The packet thread itself (a real one, over an in-memory TUN): nothing that goes wrong after a batch may escape it, as
/// an exception leaving a thread ends the whole process — the daemon's, or the app's that embeds the engine.
/// </summary>
public sealed class PacketLoopThreadTests
{
    private static readonly NetAddress App = NetAddress.Parse("172.19.0.1");
    private static readonly NetAddress NatPeer = NetAddress.Parse("172.19.0.2");
    private static readonly NetAddress Server = NetAddress.Parse("203.0.113.10");

    [Theory]
    [InlineData(65535, 15)]
    [InlineData(9000, 64)]
    [InlineData(1500, 64)]
    public void TheTunBatch_StaysWithinTunBatchBytes_AtAnyMtu_AndPacketsPass(int mtu, int slots)
    {
        using var tun = new ChannelTun(mtu);
        var limits = EngineLimits.Default;
        var loop = Loop(tun, limits, NullLogger.Instance, out var udp);
        using var sessions = udp;
        loop.Start();
        try
        {
            tun.Inject(Tcp(App, 50000, Server, 80, TcpFlags.Syn));
            Assert.True(IpPacket.TryParse(tun.Take(TimeSpan.FromSeconds(5)), out var answer));
            Assert.Equal((NatPeer, App), (answer.Source, answer.Destination));
            Assert.Equal(slots, tun.LastBatch.Slots);
            Assert.InRange(tun.LastBatch.Bytes, 1, limits.TunBatchBytes);
        }
        finally
        {
            tun.Dispose();
            loop.Stop();
        }
    }

    [Fact]
    public void ABatchWithinTooFewBytesForOnePacket_StillHoldsOne() =>
        Assert.Equal(1, PacketBatch.Within(64, 1000, 65535 + 64).Capacity);

    private static PacketLoop Loop(ChannelTun tun, EngineLimits limits, Microsoft.Extensions.Logging.ILogger logger, out UdpSessions udp)
    {
        var clock = new FakeClock();
        var config = ConfigLoader.Load("""{"outbounds": [{"type": "direct", "tag": "direct"}]}""");
        var outbounds = new Dictionary<string, IOutbound> { ["direct"] = OutboundRegistry.Create(config.Outbounds[0], new PlainSockets()) };
        var lanes = new LaneSelector(Router.Compile(config.Route, ["direct"], "direct"), outbounds, "direct", dnsServerRunning: false, NullLogger.Instance);
        var admission = new FlowAdmission(lanes, new ConnectionRegistry(clock), NullLogger.Instance);
        udp = new UdpSessions(tun, admission, null, NullLogger.Instance, clock, limits);
        var inbound = new TunInbound("tun-in", [IpPrefix.Parse("172.19.0.1/30")], null, null, admission);
        var l3 = new L3Lanes(tun, inbound, NullLogger.Instance, limits);
        return new PacketLoop(tun, new TcpNatPath(tun, new TcpNat(App, NatPeer) { ListenPort = 40000 }, null, inbound, l3, NullLogger.Instance), udp,
            new IcmpPath(tun, null, null, inbound, l3, limits), l3, inbound, logger, limits, clock);
    }

    [Fact]
    public void AWakeUpThatThrowsAfterABatch_IsLogged_AndTheNextPacketsStillPass()
    {
        using var tun = new ChannelTun();
        var clock = new FakeClock();
        var config = ConfigLoader.Load("""{"outbounds": [{"type": "direct", "tag": "direct"}]}""");
        var outbounds = new Dictionary<string, IOutbound> { ["direct"] = OutboundRegistry.Create(config.Outbounds[0], new PlainSockets()) };
        var lanes = new LaneSelector(Router.Compile(config.Route, ["direct"], "direct"), outbounds, "direct", dnsServerRunning: false, NullLogger.Instance);
        var admission = new FlowAdmission(lanes, new ConnectionRegistry(clock), NullLogger.Instance);
        using var udp = new UdpSessions(tun, admission, null, NullLogger.Instance, clock, EngineLimits.Default);
        var inbound = new TunInbound("tun-in", [IpPrefix.Parse("172.19.0.1/30")], null, null, admission);
        var l3 = new L3Lanes(tun, inbound, NullLogger.Instance, EngineLimits.Default);
        var logs = new Sluice.Tests.LogLines();
        int wakeUps = 0;
        var loop = new PacketLoop(tun, new TcpNatPath(tun, new TcpNat(App, NatPeer) { ListenPort = 40000 }, null, inbound, l3, NullLogger.Instance), udp,
            new IcmpPath(tun, null, null, inbound, l3, EngineLimits.Default), l3, inbound, logs.CreateLogger("tun"), EngineLimits.Default, clock)
        {
            // The engine's sweeper wake-up; at a stop its timer may already be gone.
            BatchHandled = _ =>
            {
                if (Interlocked.Increment(ref wakeUps) == 1) throw new ObjectDisposedException("sweeper timer");
            },
        };
        loop.Start();
        try
        {
            tun.Inject(Tcp(App, 50000, Server, 80, TcpFlags.Syn));
            Assert.True(IpPacket.TryParse(tun.Take(TimeSpan.FromSeconds(5)), out _));
            tun.Inject(Tcp(App, 50001, Server, 80, TcpFlags.Syn));
            Assert.True(IpPacket.TryParse(tun.Take(TimeSpan.FromSeconds(5)), out var second), "the packet thread stopped after the wake-up threw");
            Assert.Equal((NatPeer, App), (second.Source, second.Destination));
            Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref wakeUps) >= 2, TimeSpan.FromSeconds(5)));
            Assert.Contains(logs.Lines, line => line.Contains("ObjectDisposedException", StringComparison.Ordinal));
        }
        finally
        {
            tun.Dispose();
            loop.Stop();
        }
    }
}
