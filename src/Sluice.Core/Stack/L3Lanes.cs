using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Sluice.Core.Outbounds;
using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Core.Stack;

/// <summary>
/// The L3 lanes (WireGuard) of the packet path:
/// 1. a new flow routed to one is opened there (a fake IP is resolved off the packet thread first);
/// 2. its later packets, whatever their protocol, go straight to the lane, bypassing NAT and sessions;
/// 3. the lanes fed during a batch are flushed when it ends (one batched send each);
/// 4. flows idle past their protocol's timeout are swept (an ended TCP flow after a short grace); the engine's own
///    pinned flows stay until unpinned.
/// </summary>
internal sealed partial class L3Lanes(ITunDevice tun, TunInbound inbound, ILogger logger, EngineLimits limits)
{
    private readonly long _tcpIdleMs = (long)limits.L3TcpIdle.TotalMilliseconds;
    private readonly long _tcpClosedMs = (long)limits.L3TcpClosedGrace.TotalMilliseconds;
    private readonly long _udpIdleMs = (long)limits.UdpIdle.TotalMilliseconds;
    private readonly long _icmpIdleMs = (long)limits.IcmpIdle.TotalMilliseconds;
    private readonly ConcurrentDictionary<FlowKey, byte> _resolving = new();
    private readonly ConcurrentDictionary<FlowKey, L3Flow> _flows = new();
    private readonly ConcurrentDictionary<FlowKey, byte> _pinned = new();
    private readonly List<IPacketLane> _toFlush = new(4);

    public int Count => _flows.Count;

    /// <summary>Sends a packet of a flow already on an L3 lane; false when it is on none.</summary>
    public bool TryForward(in IpPacket packet, Span<byte> slot, int offset, int length, int checksumStart = 0)
    {
        if (_flows.IsEmpty || !FlowKeys.TryGetFlowKey(packet, out var key) || !_flows.TryGetValue(key, out var flow)) return false;
        if (checksumStart != 0) PartialChecksum.Complete(packet.Buffer, checksumStart); // a tunnel carries whole packets
        if (key.Protocol == IpProtocol.Tcp) flow.NoteTcp(packet, fromApp: true);
        flow.Connection?.AddUpload(length);
        Send(flow.Lane, flow, slot, offset, length);
        return true;
    }

    /// <summary>
    /// Opens a new flow on an L3 lane when that is where it was routed, and sends its first packet.
    /// A lane that cannot carry it (no tunnel address of that family) refuses it like a reject.
    /// </summary>
    public bool TryOpen(in LaneChoice choice, in IpPacket packet, in FlowKey key, Routing.FlowContext flow, Span<byte> slot, int offset, Span<byte> scratch)
    {
        if (choice.Kind != LaneKind.Outbound || choice.Outbound is not IPacketLane lane) return false;
        var dns = inbound.Dns;
        if (dns is not null && dns.Map.IsFakeIp(key.Destination))
        {
            // The tunnel needs the real address: resolve it off the packet thread and drop this packet;
            // the app's retransmission (TCP SYN, or its next datagram) takes the opened flow.
            if (flow.Domain is not null && _resolving.TryAdd(key, 0)) _ = OpenFakeIpFlowAsync(dns, lane, key, flow, choice);
            return true;
        }
        var l3 = lane.Open(key);
        if (l3 is null)
        {
            LogNoTunnelAddress(logger, key.ToString(), lane.Tag);
            inbound.Admission.Refused(flow, choice with { Kind = LaneKind.Reject });
            Refusals.Refuse(tun, scratch, packet);
            return true;
        }
        Admit(key, l3, flow, choice, null);
        l3.Connection!.AddUpload(packet.TotalLength);
        Send(lane, l3, slot, offset, packet.TotalLength);
        return true;
    }

    private void Admit(FlowKey key, L3Flow l3, Routing.FlowContext flow, LaneChoice choice, string? detail)
    {
        _flows[key] = l3;
        inbound.Admission.Routed(flow, l3.Lane.Tag, choice.Decision, detail);
        l3.Connection = inbound.Admission.Register(flow, l3.Lane.Tag, choice.Decision.RuleIndex, () => Forget(key, l3));
    }

    private async Task OpenFakeIpFlowAsync(DnsHijack dns, IPacketLane lane, FlowKey key, Routing.FlowContext flow, LaneChoice choice)
    {
        try
        {
            var real = await dns.ResolveRealAsync(flow.Domain!, key.IsV4, CancellationToken.None);
            if (real is null || lane.Open(key, real) is not { } l3)
            {
                LogFakeIpUnresolved(logger, key.ToString(), flow.Domain!);
                return;
            }
            Admit(key, l3, flow, choice, $"{flow.Domain} = {real}");
        }
        finally
        {
            _resolving.TryRemove(key, out _);
        }
    }

    private void Send(IPacketLane lane, L3Flow flow, Span<byte> slot, int offset, int length)
    {
        lane.Send(flow, slot, offset, length);
        foreach (var queued in _toFlush)
            if (ReferenceEquals(queued, lane)) return;
        _toFlush.Add(lane);
    }

    /// <summary>The end of a batch: every lane fed since the last flush sends what it queued.</summary>
    public void Flush()
    {
        foreach (var lane in _toFlush)
        {
            try
            {
                lane.Flush();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                LogFlushFailed(logger, lane.Tag, e.GetType().Name, e.Message);
            }
        }
        _toFlush.Clear();
    }

    /// <summary>
    /// Carries a flow the engine itself originates (a socket bound to the TUN) on an L3 lane. It stays until
    /// <see cref="Unpin"/> (its stream closed), however long it is idle: the sweep must not end it under an open stream.
    /// </summary>
    public void Pin(FlowKey key, L3Flow flow)
    {
        _pinned[key] = 0;
        _flows[key] = flow;
    }

    public void Unpin(FlowKey key)
    {
        _flows.TryRemove(key, out _);
        _pinned.TryRemove(key, out _);
    }

    /// <summary>
    /// Forgets flows idle longer than their protocol's timeout (<see cref="EngineLimits"/>: L3TcpIdle, or L3TcpClosedGrace
    /// once a TCP flow has ended; UdpIdle, IcmpIdle); pinned flows stay.
    /// </summary>
    public void Sweep(long now)
    {
        long next = long.MaxValue;
        foreach (var (key, flow) in _flows)
        {
            if (_pinned.ContainsKey(key)) continue;
            long idle = key.Protocol switch
            {
                IpProtocol.Tcp => flow.TcpEnded ? _tcpClosedMs : _tcpIdleMs,
                IpProtocol.Udp => _udpIdleMs,
                _ => _icmpIdleMs,
            };
            if (now - flow.LastSeen <= idle)
            {
                next = Math.Min(next, flow.LastSeen + idle);
                continue;
            }
            Forget(key, flow);
        }
        NextExpiry = next;
    }

    /// <summary>When the earliest unpinned flow left by the last <see cref="Sweep"/> goes idle (engine ms); MaxValue when none.</summary>
    public long NextExpiry { get; private set; } = long.MaxValue;

    /// <summary>Ends a flow: later packets of it count as new (a TCP segment then gets a RST).</summary>
    private void Forget(FlowKey key, L3Flow flow)
    {
        if (!_flows.TryRemove(new KeyValuePair<FlowKey, L3Flow>(key, flow))) return;
        flow.Lane.Forget(flow);
        if (flow.Connection is { } connection) inbound.Admission.Unregister(connection);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Flow}: fake IP for {Domain} has no real address; dropped")]
    private static partial void LogFakeIpUnresolved(ILogger logger, string flow, string domain);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Flow}: lane {Lane} has no tunnel address of this family; refused")]
    private static partial void LogNoTunnelAddress(ILogger logger, string flow, string lane);

    [LoggerMessage(Level = LogLevel.Warning, Message = "lane {Lane}: flush failed after {Error}: {Reason}")]
    private static partial void LogFlushFailed(ILogger logger, string lane, string error, string reason);
}
