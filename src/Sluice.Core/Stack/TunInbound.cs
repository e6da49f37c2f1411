using Sluice.Core.Flows;
using Sluice.Core.Routing;
using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Core.Stack;

/// <summary>
/// New flows as the TUN inbound sees them: its tag, the process lookup rules may ask for, and the name the
/// built-in DNS answered for the destination (or its fake IP), and its own prefixes (never routed). UDP and ICMP are routed at their first packet:
/// a sniff rule looks at that packet only (a DNS query is recognised, so `protocol: dns` matches).
/// On the packet thread the process comes from the lookup's cache only; a flow whose rules need a process the
/// cache does not know waits in <see cref="Owners"/> (<see cref="Parked"/>), and rules that do not ask never wait.
/// </summary>
/// <param name="udpTimeout">The inbound's udp_timeout: every new flow's UDP idle timeout until a route-options rule sets one.</param>
internal sealed class TunInbound(string tag, IpPrefix[] ownPrefixes, IProcessLookup? processes, DnsHijack? dns, FlowAdmission admission,
    OwnerLookups? owners = null, TimeSpan? udpTimeout = null)
{
    private readonly Func<FlowKey, ProcessInfo?>? _find = processes is null ? null : processes.Find;
    private readonly CachedProcessLookup? _findCached = processes is null ? null : processes.TryFindCached;

    public FlowAdmission Admission => admission;

    public DnsHijack? Dns => dns;

    /// <summary>Flows waiting for their process off the packet thread; null without a process lookup.</summary>
    public OwnerLookups? Owners => owners;

    /// <summary>Traffic to the TUN's own prefix would loop back into the TUN; it is dropped.</summary>
    public bool IsOwnAddress(NetAddress address)
    {
        foreach (var prefix in ownPrefixes)
            if (prefix.Contains(address)) return true;
        return false;
    }

    /// <param name="answer">The process found off the packet thread when this is a parked flow handled again.</param>
    public FlowContext NewFlow(in FlowKey key, OwnerAnswer? answer = null)
    {
        var flow = new FlowContext(key, tag, _find) { CachedLookup = _findCached, UdpTimeout = udpTimeout };
        if (owners is not null)
        {
            if (answer is { } known && known.Key == key) flow.ResolveProcess(known.Process);
            else flow.AskCacheOnly();
        }
        if (dns is not null && dns.Map.TryGetDomain(key.Destination, out var domain))
        {
            flow.Domain = domain;
            flow.DestinationIsName = dns.Map.IsFakeIp(key.Destination);
        }
        return flow;
    }

    /// <summary>The lane of a flow routed at its SYN.</summary>
    public LaneChoice Choose(FlowContext flow, bool stopAtResolve = false) => Settled(flow, admission.Choose(flow, stopAtResolve: stopAtResolve));

    /// <summary>
    /// True when the decision just made asked for a process only the slow lookup can find: the packet is parked
    /// (or dropped when too many wait) and handled again once the process is known; the caller is done with it.
    /// </summary>
    public bool Parked(FlowContext flow, ReadOnlySpan<byte> packet)
    {
        if (!flow.ProcessPending) return false;
        owners!.Park(flow.Key, flow.SocketKey, packet);
        return true;
    }

    /// <summary>Once decided, later lookups (a sniff rule's second decision in the relay) may take the slow path.</summary>
    private static LaneChoice Settled(FlowContext flow, LaneChoice choice)
    {
        flow.Settle();
        return choice;
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
        return Settled(flow, choice);
    }
}
