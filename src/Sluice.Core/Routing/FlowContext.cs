using Sluice.Core.Flows;
using Sluice.Packets;

namespace Sluice.Core.Routing;

/// <summary>What the router knows about one new flow. One per flow; not thread-safe (one decider at a time).</summary>
public sealed class FlowContext
{
    private static readonly string[] ProtocolNames = BuildProtocolNames();

    private readonly Func<FlowKey, ProcessInfo?>? _processLookup;
    private readonly FlowKey _key;
    private ProcessInfo? _process;

    /// <param name="socketKey">
    /// The app's own socket when it is not the flow itself: a proxy request's flow goes to the named
    /// destination, but the app's connection runs to the proxy port, and only that one finds the process.
    /// </param>
    public FlowContext(FlowKey key, string inbound, Func<FlowKey, ProcessInfo?>? processLookup, FlowKey? socketKey = null)
    {
        _key = key;
        Inbound = inbound;
        _processLookup = processLookup;
        SocketKey = socketKey ?? key;
    }

    /// <summary>The app socket's key, which process lookups use (<see cref="Key"/> unless the flow came through a proxy inbound).</summary>
    public FlowKey SocketKey { get; }

    public FlowKey Key => _key;

    /// <summary>The key without a copy, for the rule evaluation loop.</summary>
    internal ref readonly FlowKey KeyRef => ref _key;

    public string Inbound { get; }

    /// <summary>"tcp", "udp", "icmp" (ICMPv6 too), else the protocol number.</summary>
    public string Network => ProtocolNames[Key.Protocol];

    /// <summary>The destination's name: from sniffing (TLS SNI / HTTP Host) or the DNS reverse map.</summary>
    public string? Domain { get; set; }

    /// <summary>The sniffed protocol: "tls", "http", "quic", "dns".</summary>
    public string? Protocol { get; set; }

    /// <summary>
    /// The destination stands for a name (<see cref="Domain"/>): a fake address, or a proxy request by name. Only
    /// such a flow is looked up by a resolve rule, as sing-box resolves only a name destination.
    /// </summary>
    public bool DestinationIsName { get; set; }

    /// <summary>
    /// What a resolve rule found for <see cref="Domain"/>. Once set, IP items (ip_cidr, ip_is_private, the
    /// ip_cidr of rule sets) test these addresses instead of the destination, which is only a stand-in for
    /// the name. Empty when the lookup found nothing: IP items then match nothing.
    /// </summary>
    public IReadOnlyList<NetAddress>? ResolvedAddresses { get; set; }

    /// <summary>True once a sniff verdict was given (or the caller sniffed); sniff rules are then skipped.</summary>
    public bool Sniffed { get; set; }

    /// <summary>
    /// The owning process, looked up on first access and cached (a miss too): the lookup reads the
    /// kernel's socket tables, so it happens only when a rule with process matchers is evaluated.
    /// </summary>
    public ProcessInfo? Process
    {
        get
        {
            switch (OwnerState)
            {
                case FlowOwnerState.Known:
                    return _process;
                case FlowOwnerState.Pending:
                    return null;
                case FlowOwnerState.CacheOnly when _processLookup is not null:
                    // The packet thread must not wait for a /proc scan: a miss leaves the decision provisional.
                    if (CachedLookup is null || !CachedLookup(SocketKey, out var cached))
                    {
                        OwnerState = FlowOwnerState.Pending;
                        return null;
                    }
                    _process = cached;
                    break;
                default:
                    _process = _processLookup?.Invoke(SocketKey);
                    break;
            }
            OwnerState = FlowOwnerState.Known;
            return _process;
        }
    }

    /// <summary>True once <see cref="Process"/> has its answer (a miss too).</summary>
    public bool ProcessResolved => OwnerState == FlowOwnerState.Known;

    /// <summary>The lookup that answers only from what is cached (no /proc scan); false when only the slow one could answer.</summary>
    internal CachedProcessLookup? CachedLookup { get; init; }

    /// <summary>How <see cref="Process"/> is found: see <see cref="FlowOwnerState"/>.</summary>
    internal FlowOwnerState OwnerState { get; private set; }

    /// <summary>A rule asked for the process and the cache could not answer: the flow waits for the slow lookup.</summary>
    internal bool ProcessPending => OwnerState == FlowOwnerState.Pending;

    /// <summary>The packet thread decides this flow: <see cref="Process"/> asks the cache only until <see cref="Settle"/>.</summary>
    internal void AskCacheOnly()
    {
        if (OwnerState == FlowOwnerState.Lazy) OwnerState = FlowOwnerState.CacheOnly;
    }

    /// <summary>The decision stands: later asks (a sniff rule's second decision in the relay) may take the slow lookup.</summary>
    internal void Settle()
    {
        if (OwnerState == FlowOwnerState.CacheOnly) OwnerState = FlowOwnerState.Lazy;
    }

    /// <summary>The process found off the packet thread for a flow that waited for it.</summary>
    internal void ResolveProcess(ProcessInfo? process)
    {
        _process = process;
        OwnerState = FlowOwnerState.Known;
    }

    /// <summary>route-options override_address: the address dialled instead of the destination; null = the destination.</summary>
    public NetAddress? OverrideAddress { get; private set; }

    /// <summary>route-options override_port.</summary>
    public ushort? OverridePort { get; private set; }

    /// <summary>route-options udp_timeout: this flow's UDP session idle timeout; null = the engine's.</summary>
    public TimeSpan? UdpTimeout { get; internal set; }

    /// <summary>A matched route-options rule's fields; a later rule overrides what it sets.</summary>
    internal void Apply(Configuration.RouteOptionsAction options)
    {
        OverrideAddress = options.OverrideAddress ?? OverrideAddress;
        OverridePort = options.OverridePort ?? OverridePort;
        UdpTimeout = options.UdpTimeout ?? UdpTimeout;
    }

    /// <summary>Where the outbound dials: the destination with route-options' overrides (a name is dropped when the address is overridden).</summary>
    internal Outbounds.Destination Dialled(Outbounds.Destination destination) =>
        OverrideAddress is null && OverridePort is null ? destination
            : new Outbounds.Destination(OverrideAddress ?? destination.Address, OverridePort ?? destination.Port, OverrideAddress is null ? destination.Domain : null);

    /// <summary>Bit of <see cref="Key"/>'s protocol in a rule's network mask (0 when no network name applies).</summary>
    internal int NetworkBit => Key.Protocol switch
    {
        IpProtocol.Tcp => 1,
        IpProtocol.Udp => 2,
        IpProtocol.Icmp or IpProtocol.IcmpV6 => 4,
        _ => 0,
    };

    private static string[] BuildProtocolNames()
    {
        var names = new string[256];
        for (int i = 0; i < names.Length; i++) names[i] = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        names[IpProtocol.Tcp] = "tcp";
        names[IpProtocol.Udp] = "udp";
        names[IpProtocol.Icmp] = "icmp";
        names[IpProtocol.IcmpV6] = "icmp";
        return names;
    }
}

/// <summary>Where a flow stands in finding its owning process.</summary>
internal enum FlowOwnerState
{
    /// <summary>Not asked yet; the first ask runs the full lookup.</summary>
    Lazy,

    /// <summary>Not asked yet, and the packet thread is deciding: an ask answers from the cache only.</summary>
    CacheOnly,

    /// <summary>Asked on the packet thread and the cache missed: the decision is provisional and the flow waits.</summary>
    Pending,

    /// <summary>Answered (null when no process owns the socket).</summary>
    Known,
}
