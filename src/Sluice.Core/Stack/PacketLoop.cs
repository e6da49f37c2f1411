using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Sluice.Core.Monitoring;
using Sluice.Core.Outbounds;
using Sluice.Core.Routing;
using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Core.Stack;

/// <summary>
/// The packet thread. For each batch read from the TUN:
/// 1. parse the packet once (a view, no copy) and take its flow key; a flow on an L3 lane
///    (WireGuard) goes to that lane whatever its protocol;
/// 2. TCP: the kernel's answers on the relay side are rewritten back to the app; an app segment is
///    rewritten towards the relay listener (a new SYN is routed first, a refusal answered with RST);
/// 3. UDP: handed to its user-space session (a new flow is routed first);
/// 4. ICMP echo: relayed or refused; everything else is dropped.
/// A new flow routed to an L3 lane is opened there and its packets bypass the NAT and the sessions.
/// Rewrites happen in place in the batch slot and the packet is written straight back. After the batch
/// every L3 lane that got packets is flushed (it sends what it queued in the slots with one batched send).
/// </summary>
internal sealed partial class PacketLoop
{
    private readonly ITunDevice _tun;
    private readonly TcpNat? _nat4;
    private readonly TcpNat? _nat6;
    private readonly UdpSessions _udp;
    private readonly IcmpEchoRelay? _icmp4;
    private readonly IcmpEchoRelay? _icmp6;
    private readonly LaneSelector _lanes;
    private readonly string _inboundTag;
    private readonly Func<FlowKey, Flows.ProcessInfo?>? _processLookup;
    private readonly IpPrefix[] _ownPrefixes;
    private readonly ILogger _logger;
    private readonly ConnectionRegistry _connections;
    private readonly DnsHijack? _dns;
    private readonly EngineLimits _limits;
    private readonly TimeProvider _time;
    private readonly long _l3TcpIdleMs, _udpIdleMs, _icmpIdleMs;
    private readonly ConcurrentDictionary<FlowKey, byte> _resolving = new();
    private readonly Dictionary<FlowKey, (LaneKind Kind, long At)> _icmpFlows = new();
    private readonly ConcurrentDictionary<FlowKey, L3Flow> _l3Flows = new();
    private readonly ConcurrentDictionary<FlowKey, byte> _pinned = new();
    private readonly byte[] _scratch = GC.AllocateUninitializedArray<byte>(2048, pinned: true);
    private readonly List<IPacketLane> _toFlush = new(4);
    private Thread? _thread;
    private volatile bool _stopping;

    public PacketLoop(ITunDevice tun, TcpNat? nat4, TcpNat? nat6, UdpSessions udp, IcmpEchoRelay? icmp4, IcmpEchoRelay? icmp6,
        LaneSelector lanes, string inboundTag, Func<FlowKey, Flows.ProcessInfo?>? processLookup, IpPrefix[] ownPrefixes,
        ConnectionRegistry connections, DnsHijack? dns, ILogger logger, EngineLimits limits, TimeProvider time)
    {
        _limits = limits;
        _time = time;
        _l3TcpIdleMs = (long)limits.L3TcpIdle.TotalMilliseconds;
        _udpIdleMs = (long)limits.UdpIdle.TotalMilliseconds;
        _icmpIdleMs = (long)limits.IcmpIdle.TotalMilliseconds;
        _connections = connections;
        _dns = dns;
        _tun = tun;
        _nat4 = nat4;
        _nat6 = nat6;
        _udp = udp;
        _icmp4 = icmp4;
        _icmp6 = icmp6;
        _lanes = lanes;
        _inboundTag = inboundTag;
        _processLookup = processLookup;
        _ownPrefixes = ownPrefixes;
        _logger = logger;
    }

    public long Packets { get; private set; }

    public void Start()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "sluice-tun-read" };
        _thread.Start();
    }

    public void Stop()
    {
        _stopping = true;
        _thread?.Join(TimeSpan.FromSeconds(2));
    }

    private void Run()
    {
        var batch = new PacketBatch(_limits.TunBatch, Math.Max(_tun.Mtu, 1500) + 64);
        while (!_stopping)
        {
            int count;
            try
            {
                count = _tun.ReadBatch(batch);
            }
            catch (Exception e) when (!_stopping)
            {
                LogReadFailed(_logger, e.Message);
                Thread.Sleep(100);
                continue;
            }
            if (count == 0) break;
            batch.Count = count;
            Process(batch, _time.Milliseconds());
        }
    }

    /// <summary>
    /// Handles one batch read from the TUN (<see cref="PacketBatch.Count"/> packets) at time
    /// <paramref name="now"/> (milliseconds of the engine's clock), then flushes the L3 lanes it fed.
    /// The packet thread calls it per read; a test calls it directly, with a fake TUN and clock.
    /// </summary>
    public void Process(PacketBatch batch, long now)
    {
        int count = batch.Count;
        for (int i = 0; i < count; i++)
        {
            try
            {
                Handle(batch.Slot(i), PacketBatch.Headroom, batch.Length(i), now);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // One bad packet must never stop the packet path.
                LogPacketFailed(_logger, e.GetType().Name, e.Message);
            }
        }
        FlushLanes();
        Packets += count;
    }

    /// <summary>Hands a packet to an L3 lane; the lane is flushed when the batch ends.</summary>
    private void SendToLane(IPacketLane lane, L3Flow flow, Span<byte> slot, int offset, int length)
    {
        lane.Send(flow, slot, offset, length);
        foreach (var queued in _toFlush)
            if (ReferenceEquals(queued, lane)) return;
        _toFlush.Add(lane);
    }

    private void FlushLanes()
    {
        foreach (var lane in _toFlush)
        {
            try
            {
                lane.Flush();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                LogPacketFailed(_logger, e.GetType().Name, e.Message);
            }
        }
        _toFlush.Clear();
    }

    private void Handle(Span<byte> slot, int offset, int length, long now)
    {
        if (!IpPacket.TryParse(slot.Slice(offset, length), out var packet) || (packet.IsFragment && !packet.IsFirstFragment)) return;
        if (!_l3Flows.IsEmpty && FlowKeys.TryGetFlowKey(packet, out var l3Key) && _l3Flows.TryGetValue(l3Key, out var l3))
        {
            l3.Connection?.AddUpload(length);
            SendToLane(l3.Lane, l3, slot, offset, length);
            return;
        }
        switch (packet.Protocol)
        {
            case IpProtocol.Tcp:
                HandleTcp(packet, slot, offset, now);
                break;
            case IpProtocol.Udp:
                if (!FlowKeys.TryGetFlowKey(packet, out var udpKey) || IsOwnAddress(udpKey.Destination)) return;
                if (!UdpDatagram.TryParse(packet.Payload, out var datagram)) return;
                if (_udp.TryForward(packet, udpKey, datagram.Payload, _scratch)) return;
                var flow = NewFlow(udpKey);
                var choice = ChooseWithoutPayload(flow, datagram.Payload);
                if (TryOpenL3(choice, packet, udpKey, flow, slot, offset)) return;
                _udp.Open(packet, udpKey, flow, choice, datagram.Payload, _scratch);
                break;
            case IpProtocol.Icmp:
            case IpProtocol.IcmpV6:
                HandleIcmp(packet, slot, offset, now);
                break;
        }
    }

    /// <summary>
    /// UDP and ICMP are routed at their first packet: a sniff rule looks at that packet only (a DNS
    /// query is recognised, so `protocol: dns` matches), then the rules go on.
    /// </summary>
    private LaneChoice ChooseWithoutPayload(FlowContext flow, ReadOnlySpan<byte> firstPayload = default)
    {
        var choice = _lanes.Choose(flow);
        while (choice.Kind == LaneKind.NeedsSniff)
        {
            if (flow.Key.Protocol == IpProtocol.Udp && Sniffing.Sniffer.SniffDatagram(firstPayload) is { Status: Sniffing.SniffStatus.Found } sniffed)
            {
                flow.Protocol = sniffed.Protocol;
                flow.Domain ??= sniffed.Domain;
            }
            flow.Sniffed = true;
            choice = _lanes.Choose(flow, choice.Decision.ResumeAt);
        }
        return choice;
    }

    internal static bool LooksLikeDnsQuery(ReadOnlySpan<byte> payload) => Sniffing.Sniffer.LooksLikeDnsQuery(payload);

    /// <summary>A new flow, with the name the built-in DNS answered for its destination (or its fake IP).</summary>
    private FlowContext NewFlow(in FlowKey key)
    {
        var flow = new FlowContext(key, _inboundTag, _processLookup);
        if (_dns is not null && _dns.Map.TryGetDomain(key.Destination, out var domain)) flow.Domain = domain;
        return flow;
    }

    private void WriteRefusal(in IpPacket packet)
    {
        if (packet.Protocol == IpProtocol.Tcp)
        {
            WriteReset(packet);
            return;
        }
        int n = PacketBuilder.IcmpUnreachable(_scratch, packet, packet.IsV4 ? IcmpCodes.V4AdminProhibited : IcmpCodes.V6AdminProhibited);
        if (n > 0) _tun.Write(_scratch.AsSpan(0, n));
    }

    private void HandleTcp(in IpPacket packet, Span<byte> slot, int offset, long now)
    {
        if (!TcpSegment.TryParse(packet.Payload, out var segment)) return;
        var nat = packet.IsV4 ? _nat4 : _nat6;
        if (nat is null) return;
        var source = packet.Source;
        var destination = packet.Destination;

        if (nat.IsFromListener(source, segment.SourcePort, destination))
        {
            var back = nat.FindByPort(segment.DestinationPort);
            if (back is null) return;
            back.LastSeen = now;
            var original = back.Original;
            PacketRewriter.RewriteTcpUdp(packet.Buffer, original.Destination, original.DestinationPort, original.Source, original.SourcePort);
            _tun.Write(packet.Buffer);
            return;
        }

        var key = new FlowKey(IpProtocol.Tcp, source, segment.SourcePort, destination, segment.DestinationPort);
        if (IsOwnAddress(destination)) return;
        var entry = nat.Find(key);
        if (entry is null)
        {
            var flags = segment.Flags;
            if ((flags & TcpFlags.Rst) != 0) return;
            if ((flags & (TcpFlags.Syn | TcpFlags.Ack)) != TcpFlags.Syn)
            {
                // Not a new connection and no state for it (engine restarted, entry expired): tell the app.
                WriteReset(packet);
                return;
            }
            var flow = NewFlow(key);
            var choice = _lanes.Choose(flow);
            if (TryOpenL3(choice, packet, key, flow, slot, offset)) return;
            if (choice.Kind == LaneKind.Reject)
            {
                LogTcpRefused(_logger, key.ToString(), TcpRelay.DescribeProcess(flow), choice.Decision.RuleLabel);
                WriteReset(packet);
                return;
            }
            if (choice.Kind == LaneKind.Drop)
            {
                LogTcpDropped(_logger, key.ToString(), TcpRelay.DescribeProcess(flow), choice.Decision.RuleLabel);
                return;
            }
            // A sniff verdict is kept too: the relay sniffs the first payload, then decides from the next rule
            // (deciding again from the first would skip the sniff rule, which the flow already matched).
            entry = nat.Add(key, flow, choice.Decision, now);
            if (entry is null)
            {
                LogNatFull(_logger, key.ToString());
                WriteReset(packet);
                return;
            }
        }
        entry.LastSeen = now;
        PacketRewriter.RewriteTcpUdp(packet.Buffer, nat.NatAddress, entry.NatPort, nat.TunAddress, nat.ListenPort);
        _tun.Write(packet.Buffer);
    }

    private void HandleIcmp(in IpPacket packet, Span<byte> slot, int offset, long now)
    {
        if (!IcmpMessage.TryParse(packet.Payload, out var icmp) || !icmp.IsEchoRequest) return;
        if (!FlowKeys.TryGetFlowKey(packet, out var key) || IsOwnAddress(key.Destination)) return;
        if (!_icmpFlows.TryGetValue(key, out var known) || now - known.At > _icmpIdleMs)
        {
            var flow = NewFlow(key);
            var choice = ChooseWithoutPayload(flow);
            if (TryOpenL3(choice, packet, key, flow, slot, offset)) return;
            known = (choice.Kind, now);
            _icmpFlows[key] = known;
            if (_icmpFlows.Count > _limits.IcmpDecisions) SweepIcmpFlows(now);
        }
        switch (known.Kind)
        {
            case LaneKind.Reject:
                int n = PacketBuilder.IcmpUnreachable(_scratch, packet, packet.IsV4 ? IcmpCodes.V4AdminProhibited : IcmpCodes.V6AdminProhibited);
                if (n > 0) _tun.Write(_scratch.AsSpan(0, n));
                break;
            case LaneKind.Outbound:
                (packet.IsV4 ? _icmp4 : _icmp6)?.OnEchoRequest(packet, icmp);
                break;
        }
    }

    private void SweepIcmpFlows(long now)
    {
        foreach (var (key, value) in _icmpFlows)
            if (now - value.At > _icmpIdleMs) _icmpFlows.Remove(key);
    }

    private void WriteReset(in IpPacket packet)
    {
        int n = PacketBuilder.TcpReset(_scratch, packet);
        if (n > 0) _tun.Write(_scratch.AsSpan(0, n));
    }

    /// <summary>Traffic to the TUN's own prefix would loop back into the TUN; it is dropped.</summary>
    private bool IsOwnAddress(NetAddress address)
    {
        foreach (var prefix in _ownPrefixes)
            if (prefix.Contains(address)) return true;
        return false;
    }
}
