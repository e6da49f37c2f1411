using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Core.Stack;

/// <summary>
/// ICMP echo from apps: the first request of a flow is routed (an L3 lane takes it whole); the decision is
/// kept for <see cref="EngineLimits.IcmpIdle"/>, after which the next request is routed again. Outbound
/// requests go to the echo relay of their family, refused ones get ICMP unreachable, dropped ones nothing.
/// </summary>
internal sealed class IcmpPath(ITunDevice tun, IcmpEchoRelay? relay4, IcmpEchoRelay? relay6, TunInbound inbound, L3Lanes l3, EngineLimits limits)
{
    private readonly long _idleMs = (long)limits.IcmpIdle.TotalMilliseconds;
    private readonly Dictionary<FlowKey, (LaneKind Kind, long At)> _decisions = new();

    public void Handle(in IpPacket packet, in FlowKey key, Span<byte> slot, int offset, long now, Span<byte> scratch, OwnerAnswer? answer = null)
    {
        if (!IcmpMessage.TryParse(packet.Payload, out var icmp) || !icmp.IsEchoRequest) return;
        if (!_decisions.TryGetValue(key, out var known) || now - known.At > _idleMs)
        {
            var flow = inbound.NewFlow(key, answer);
            var choice = inbound.ChooseAtFirstPacket(flow);
            if (inbound.Parked(flow, packet.Buffer)) return;
            if (l3.TryOpen(choice, packet, key, flow, slot, offset, scratch)) return;
            known = (choice.Kind, now);
            _decisions[key] = known;
            if (_decisions.Count > limits.IcmpDecisions) Sweep(now);
        }
        switch (known.Kind)
        {
            case LaneKind.Reject:
                Refusals.Unreachable(tun, scratch, packet);
                break;
            case LaneKind.Outbound:
                (packet.IsV4 ? relay4 : relay6)?.OnEchoRequest(packet, icmp);
                break;
        }
    }

    private void Sweep(long now)
    {
        foreach (var (key, value) in _decisions)
            if (now - value.At > _idleMs) _decisions.Remove(key);
    }
}
