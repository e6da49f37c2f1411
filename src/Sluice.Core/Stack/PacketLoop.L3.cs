using Microsoft.Extensions.Logging;
using Sluice.Core.Outbounds;
using Sluice.Core.Routing;
using Sluice.Packets;

namespace Sluice.Core.Stack;

/// <summary>
/// The packet thread's L3 lanes (WireGuard): opening a routed flow on its lane (resolving a fake IP
/// first), the flow table the engine's own pinned flows share, and its idle sweep.
/// </summary>
internal sealed partial class PacketLoop
{
    /// <summary>
    /// Opens a new flow on an L3 lane when that is where it was routed, and sends its first packet.
    /// A lane that cannot carry it (no tunnel address of that family) refuses it like a reject.
    /// </summary>
    private bool TryOpenL3(in LaneChoice choice, in IpPacket packet, in FlowKey key, FlowContext flow, Span<byte> slot, int offset)
    {
        if (choice.Kind != LaneKind.Outbound || choice.Outbound is not IPacketLane lane) return false;
        if (_dns is not null && _dns.Map.IsFakeIp(key.Destination))
        {
            // The tunnel needs the real address: resolve it off the packet thread and drop this packet;
            // the app's retransmission (TCP SYN, or its next datagram) takes the opened flow.
            if (flow.Domain is not null && _resolving.TryAdd(key, 0)) _ = OpenFakeIpFlowAsync(lane, key, flow, choice);
            return true;
        }
        var l3 = lane.Open(key);
        if (l3 is null)
        {
            LogL3Refused(_logger, key.ToString(), lane.Tag);
            WriteRefusal(packet);
            return true;
        }
        _l3Flows[key] = l3;
        LogL3Routed(_logger, key.ToString(), TcpRelay.DescribeProcess(flow), lane.Tag, choice.Decision.RuleLabel);
        var flowKey = key;
        l3.Connection = _connections.Add(key, flow.Inbound, flow.Domain, flow.ProcessResolved ? flow.Process : null,
            lane.Tag, _lanes.DescribeRule(choice.Decision.RuleIndex), () => ForgetL3(flowKey, l3));
        l3.Connection.AddUpload(packet.TotalLength);
        SendToLane(lane, l3, slot, offset, packet.TotalLength);
        return true;
    }

    private async Task OpenFakeIpFlowAsync(IPacketLane lane, FlowKey key, FlowContext flow, LaneChoice choice)
    {
        try
        {
            var real = await _dns!.ResolveRealAsync(flow.Domain!, key.IsV4, CancellationToken.None);
            if (real is null || lane.Open(key, real) is not { } l3)
            {
                LogFakeIpUnresolved(_logger, key.ToString(), flow.Domain!);
                return;
            }
            _l3Flows[key] = l3;
            LogL3Routed(_logger, $"{key} ({flow.Domain} = {real})", TcpRelay.DescribeProcess(flow), lane.Tag, choice.Decision.RuleLabel);
            var flowKey = key;
            l3.Connection = _connections.Add(key, flow.Inbound, flow.Domain, flow.ProcessResolved ? flow.Process : null,
                lane.Tag, _lanes.DescribeRule(choice.Decision.RuleIndex), () => ForgetL3(flowKey, l3));
        }
        finally
        {
            _resolving.TryRemove(key, out _);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Flow}: fake IP for {Domain} has no real address; dropped")]
    private static partial void LogFakeIpUnresolved(ILogger logger, string flow, string domain);

    /// <summary>
    /// Carries a flow the engine itself originates (a socket bound to the TUN) on an L3 lane. It stays until
    /// <see cref="Unpin"/> (its stream closed), however long it is idle: the sweep must not end it under an open stream.
    /// </summary>
    public void Pin(FlowKey key, L3Flow flow)
    {
        _pinned[key] = 0;
        _l3Flows[key] = flow;
    }

    public void Unpin(FlowKey key)
    {
        _l3Flows.TryRemove(key, out _);
        _pinned.TryRemove(key, out _);
    }

    /// <summary>Forgets L3 flows idle longer than their protocol's timeout (<see cref="EngineLimits"/>: L3TcpIdle, UdpIdle, IcmpIdle); pinned flows stay.</summary>
    public void SweepL3(long now)
    {
        foreach (var (key, flow) in _l3Flows)
        {
            if (_pinned.ContainsKey(key)) continue;
            long idle = key.Protocol switch { IpProtocol.Tcp => _l3TcpIdleMs, IpProtocol.Udp => _udpIdleMs, _ => _icmpIdleMs };
            if (now - flow.LastSeen <= idle) continue;
            ForgetL3(key, flow);
        }
    }

    /// <summary>Ends an L3 flow: later packets of it count as new (a TCP segment then gets a RST).</summary>
    private void ForgetL3(FlowKey key, L3Flow flow)
    {
        if (!_l3Flows.TryRemove(new KeyValuePair<FlowKey, L3Flow>(key, flow))) return;
        flow.Lane.Forget(flow);
        if (flow.Connection is { } connection) _connections.Remove(connection);
    }
}
