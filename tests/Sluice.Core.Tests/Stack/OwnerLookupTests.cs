using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Core.Configuration;
using Sluice.Core.Flows;
using Sluice.Core.Monitoring;
using Sluice.Core.Outbounds;
using Sluice.Core.Routing;
using Sluice.Core.Stack;
using Sluice.Core.Tun;
using Sluice.Packets;
using static Sluice.Core.Tests.Stack.PacketLoopTests;

namespace Sluice.Core.Tests.Stack;

/// <summary>
/// A process lookup that needs a /proc scan runs off the packet thread: the packet thread (a real one, over an
/// in-memory TUN) keeps serving other flows while a new flow waits for its process, and admits it once known.
/// </summary>
public sealed class OwnerLookupTests : IDisposable
{
    private static readonly NetAddress App = NetAddress.Parse("172.19.0.1");
    private static readonly NetAddress NatPeer = NetAddress.Parse("172.19.0.2");
    private static readonly NetAddress Server = NetAddress.Parse("203.0.113.10");
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);
    private const ushort ListenPort = 40000;
    private const ushort CurlPort = 50101;

    private readonly ChannelTun _tun = new();
    private readonly FakeClock _clock = new();
    private readonly TcpNat _nat = new(App, NatPeer) { ListenPort = ListenPort };
    private readonly BlockingLookup _processes = new(CurlPort);
    private readonly OwnerLookups _owners;
    private readonly UdpSessions _udp;
    private readonly PacketLoop _loop;
    private readonly ConnectionRegistry _connections;
    private readonly RecordingLane _lane;

    public OwnerLookupTests()
    {
        // Port 80 is decided before any rule asks for the process; curl's flows take the "wg" lane, the rest direct.
        var config = ConfigLoader.Load("""
            {
              "outbounds": [{"type": "direct", "tag": "direct"}, {"type": "block", "tag": "wg"}],
              "route": {"rules": [{"port": [80], "outbound": "direct"}, {"process_name": ["curl"], "outbound": "wg"}], "final": "direct"}
            }
            """);
        _lane = new RecordingLane("wg", () => _clock.Milliseconds());
        var outbounds = new Dictionary<string, IOutbound> { ["direct"] = OutboundRegistry.Create(config.Outbounds[0], new PlainSockets()), ["wg"] = _lane };
        var lanes = new LaneSelector(Router.Compile(config.Route, ["direct", "wg"], "direct"), outbounds, "direct", dnsServerRunning: false, NullLogger.Instance);
        _connections = new ConnectionRegistry(_clock);
        var admission = new FlowAdmission(lanes, _connections, NullLogger.Instance);
        _udp = new UdpSessions(_tun, admission, null, NullLogger.Instance, _clock, EngineLimits.Default);
        _owners = new OwnerLookups(_processes, EngineLimits.Default.PendingOwnerLookups, NullLogger.Instance);
        var inbound = new TunInbound("tun-in", [IpPrefix.Parse("172.19.0.1/30")], _processes, null, admission, _owners);
        var l3 = new L3Lanes(_tun, inbound, NullLogger.Instance, EngineLimits.Default);
        _loop = new PacketLoop(_tun, new TcpNatPath(_tun, _nat, null, inbound, l3, NullLogger.Instance), _udp,
            new IcmpPath(_tun, null, null, inbound, l3, EngineLimits.Default), l3, inbound, NullLogger.Instance, EngineLimits.Default, _clock);
        _loop.Start();
    }

    [Fact]
    public void OtherFlows_KeepFlowing_WhileANewFlowWaitsForItsProcess_WhichIsThenAdmittedOnItsLane()
    {
        // An admitted flow: port 80 is decided without the process, so it never waits for a lookup.
        _tun.Inject(Tcp(App, 50100, Server, 80, TcpFlags.Syn));
        ushort natPort = TowardsRelay();

        // curl's SYN needs the process, which only the slow lookup finds, and that lookup hangs.
        _tun.Inject(Tcp(App, CurlPort, Server, 443, TcpFlags.Syn));
        Assert.True(_processes.Started.Wait(Wait), "the slow lookup for curl's flow never started");

        // The app's retransmission waits with the first. It goes in before the segments below, which the packet
        // thread handles in order: once they come out, the retransmission has been parked, not raced by the answer.
        _tun.Inject(Tcp(App, CurlPort, Server, 443, TcpFlags.Syn));

        // Meanwhile the admitted flow's segments, and a new flow that needs no process, still pass.
        _tun.Inject(Tcp(App, 50100, Server, 80, TcpFlags.Ack));
        Assert.Equal(natPort, TowardsRelay());
        _tun.Inject(Tcp(App, 50102, Server, 80, TcpFlags.Syn));
        TowardsRelay();
        Assert.Empty(_lane.Sent);
        Assert.Equal(1, _owners.Count);
        Assert.DoesNotContain(_processes.Asked, key => key.DestinationPort == 80);

        // The lookup answers "curl": the parked SYN is admitted on curl's lane, once.
        _processes.Release.Set();
        Assert.True(SpinWait.SpinUntil(() => _lane.Sent.Count > 0, Wait), "curl's SYN never reached its lane after the lookup answered");
        var listed = Assert.Single(_connections.Snapshot(), c => c.Lane == "wg");
        Assert.Equal(("curl", CurlPort), (listed.Process?.Name, listed.Key.SourcePort));
        Assert.True(SpinWait.SpinUntil(() => _owners.Count == 0, Wait));
        Assert.Single(_lane.Sent);
        Assert.Equal(2, _nat.Count);
    }

    public void Dispose()
    {
        _processes.Release.Set();
        _tun.Dispose();
        _loop.Stop();
        _owners.Dispose();
        _udp.Dispose();
    }

    /// <summary>The next segment written towards the relay listener; its NAT port.</summary>
    private ushort TowardsRelay()
    {
        byte[] written;
        try
        {
            written = _tun.Take(Wait);
        }
        catch (OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException($"nothing reached the relay listener within {Wait.TotalSeconds} s: the packet thread is not serving other flows");
        }
        Assert.True(IpPacket.TryParse(written, out var packet));
        Assert.Equal((NatPeer, App), (packet.Source, packet.Destination));
        var segment = TcpOf(packet);
        Assert.Equal(ListenPort, segment.DestinationPort);
        return segment.SourcePort;
    }

    /// <summary>
    /// Knows no process from its cache (every lookup is the slow one); the lookup for <paramref name="blockedPort"/>
    /// hangs until <see cref="Release"/> and answers curl, every other one answers at once with another process.
    /// </summary>
    private sealed class BlockingLookup(ushort blockedPort) : IProcessLookup
    {
        public ManualResetEventSlim Started { get; } = new();

        public ManualResetEventSlim Release { get; } = new();

        public System.Collections.Concurrent.ConcurrentBag<FlowKey> Asked { get; } = [];

        public ProcessInfo? Find(FlowKey flow)
        {
            Asked.Add(flow);
            if (flow.SourcePort != blockedPort) return new ProcessInfo(1000, 1111, "firefox", "/usr/bin/firefox");
            Started.Set();
            Release.Wait();
            return new ProcessInfo(1000, 4242, "curl", "/usr/bin/curl");
        }
    }
}
