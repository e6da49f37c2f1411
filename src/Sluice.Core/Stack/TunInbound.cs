using Sluice.Core.Flows;
using Sluice.Core.Routing;
using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Core.Stack;

/// <summary>
/// New flows as the TUN inbound sees them: its tag, the process lookup rules may ask for, and the name the
/// built-in DNS answered for the destination (or its fake IP), and its own prefixes (never routed). UDP and ICMP are routed at their first packet:
/// a sniff rule looks at that packet only (a DNS query is recognised, so `protocol: dns` matches).
/// </summary>
internal sealed class TunInbound(string tag, IpPrefix[] ownPrefixes, Func<FlowKey, ProcessInfo?>? processLookup, DnsHijack? dns, FlowAdmission admission)
{
    public FlowAdmission Admission => admission;

    public DnsHijack? Dns => dns;

    /// <summary>Traffic to the TUN's own prefix would loop back into the TUN; it is dropped.</summary>
    public bool IsOwnAddress(NetAddress address)
    {
        foreach (var prefix in ownPrefixes)
            if (prefix.Contains(address)) return true;
        return false;
    }

    public FlowContext NewFlow(in FlowKey key)
    {
        var flow = new FlowContext(key, tag, processLookup);
        if (dns is not null && dns.Map.TryGetDomain(key.Destination, out var domain))
        {
            flow.Domain = domain;
            flow.DestinationIsName = dns.Map.IsFakeIp(key.Destination);
        }
        return flow;
    }

    /// <summary>The lane of a flow routed at its first packet; <paramref name="firstPayload"/> is what a sniff rule sees.</summary>
    public LaneChoice ChooseAtFirstPacket(FlowContext flow, ReadOnlySpan<byte> firstPayload = default)
    {
        var choice = admission.Choose(flow);
        while (choice.Kind == LaneKind.NeedsSniff)
        {
            if (flow.Key.Protocol == IpProtocol.Udp && Sniffing.Sniffer.SniffDatagram(firstPayload) is { Status: Sniffing.SniffStatus.Found } sniffed)
            {
                flow.Protocol = sniffed.Protocol;
                flow.Domain ??= sniffed.Domain;
            }
            flow.Sniffed = true;
            choice = admission.Choose(flow, choice.Decision.ResumeAt);
        }
        return choice;
    }
}
