using System.Text.Json;
using Sluice.Core.Tun;

namespace Sluice.Core.Configuration;

/// <summary>A validated config: immutable, every default filled in. See docs/config.md.</summary>
/// <param name="Raw">The parsed document, for sections a later component reads itself.</param>
public sealed record SluiceConfig(
    LogOptions Log,
    IReadOnlyList<TunInboundOptions> TunInbounds,
    IReadOnlyList<OutboundOptions> Outbounds,
    RouteOptions Route,
    JsonElement? Raw = null)
{
    /// <summary>The outbound a flow takes when no rule matches: route.final, else the first outbound.</summary>
    public string DefaultOutbound => Route.Final ?? Outbounds[0].Tag;

    /// <summary>"mixed" inbounds: SOCKS (5, 4, 4a) + HTTP proxy ports (docs/config.md#inbounds-mixed).</summary>
    public IReadOnlyList<MixedInboundOptions> MixedInbounds { get; init; } = [];

    /// <summary>"direct" inbounds: loopback DNS listeners served by the built-in DNS server (docs/config.md#inbounds-direct).</summary>
    public IReadOnlyList<DirectInboundOptions> DirectInbounds { get; init; } = [];

    /// <summary>The "gate" section (Sluice's own; docs/gate.md). Default mode off.</summary>
    public Sluice.Core.Gate.GateOptions Gate { get; init; } = Sluice.Core.Gate.GateOptions.Off;

    /// <summary>The "dns" section (docs/config.md#dns). Empty: the built-in server uses the host's resolvers.</summary>
    public Sluice.Core.Dns.DnsOptions Dns { get; init; } = Sluice.Core.Dns.DnsOptions.Empty;

    /// <summary>The "experimental" section: clash_api (the daemon's API address and secret). Default empty.</summary>
    public ExperimentalOptions Experimental { get; init; } = ExperimentalOptions.Empty;

    /// <summary>The "subscriptions" section (Sluice's own; docs/config.md#subscriptions). Default none.</summary>
    public IReadOnlyList<SubscriptionOptions> Subscriptions { get; init; } = [];

    /// <summary>How the files this config names are read while it runs (hosts files, local rule sets): as its origin allowed.</summary>
    public IFileSource Files { get; init; } = BoundedFileSource.Instance;
}

/// <param name="Level">trace|debug|info|warn|error|fatal|panic; default info.</param>
/// <param name="Output">A file path; null writes to stderr.</param>
public sealed record LogOptions(bool Disabled, string Level, bool Timestamp, string? Output)
{
    public static LogOptions Default { get; } = new(false, "info", true, null);
}

public sealed record TunInboundOptions(
    string Tag,
    string InterfaceName,
    IReadOnlyList<IpPrefix> Address,
    int Mtu,
    bool AutoRoute,
    bool StrictRoute,
    string Stack,
    IReadOnlyList<IpPrefix> RouteAddress,
    IReadOnlyList<IpPrefix> RouteExcludeAddress)
{
    /// <summary>Rule-set tags whose ip_cidr items join route_address (sing-box route_address_set).</summary>
    public IReadOnlyList<string> RouteAddressSet { get; init; } = [];

    /// <summary>Rule-set tags whose ip_cidr items join route_exclude_address.</summary>
    public IReadOnlyList<string> RouteExcludeAddressSet { get; init; } = [];

    /// <summary>include_uid(_range) / exclude_uid(_range) / include_interface / exclude_interface (auto_route only).</summary>
    public RouteScope Scope { get; init; } = RouteScope.Everyone;

    /// <summary>udp_timeout: idle timeout of this inbound's UDP sessions (a route-options rule may still set one per flow); null = the engine's.</summary>
    public TimeSpan? UdpTimeout { get; init; }
}

public abstract record OutboundOptions(string Type, string Tag);

public sealed record DirectOutboundOptions(string Tag, DialOptions Dial) : OutboundOptions("direct", Tag)
{
    /// <summary>
    /// Which address of a name this outbound dials (sing-box's deprecated outbound "domain_strategy"): a proxy request
    /// that names its destination, or a fakeip flow's name. Null: the family the app used, else IPv4 first.
    /// </summary>
    public Dns.DnsStrategy? DomainStrategy { get; init; }
}

public sealed record BlockOutboundOptions(string Tag) : OutboundOptions("block", Tag);

/// <param name="BindInterface">SO_BINDTODEVICE; null = let the fwmark route it.</param>
/// <param name="RoutingMark">SO_MARK; null = route.default_mark, else <see cref="ConfigDefaults.FwMark"/>.</param>
public sealed record DialOptions(string? BindInterface, uint? RoutingMark, TimeSpan ConnectTimeout)
{
    public static DialOptions Default { get; } = new(null, null, ConfigDefaults.ConnectTimeout);

    /// <summary>
    /// TCP keep-alive probes on the sockets dialed (tcp_keep_alive, tcp_keep_alive_interval); null = none
    /// (disable_tcp_keep_alive). Default on, as sing-box 1.13 dials: a NAT or firewall on the way forgets an idle
    /// connection, and without probes neither end learns it until it writes.
    /// </summary>
    public TcpKeepAlive? KeepAlive { get; init; } = TcpKeepAlive.Default;
}

/// <param name="Idle">TCP_KEEPIDLE: idle time before the first probe (sing-box's default 5 min).</param>
/// <param name="Interval">TCP_KEEPINTVL: time between unanswered probes (sing-box's default 75 s); the count is the kernel's.</param>
public sealed record TcpKeepAlive(TimeSpan Idle, TimeSpan Interval)
{
    public static TcpKeepAlive Default { get; } = new(TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(75));

    /// <summary>Linux's bound on TCP_KEEPIDLE and TCP_KEEPINTVL (MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL), in seconds.</summary>
    public const int MaxSeconds = 32767;
}

public sealed record RouteOptions(IReadOnlyList<RuleOptions> Rules, string? Final, bool AutoDetectInterface, uint? DefaultMark)
{
    public static RouteOptions Empty { get; } = new([], null, false, null);

    /// <summary>route.default_domain_resolver: the DNS server tag for the engine's own lookups; null = the host's resolvers.</summary>
    public string? DefaultDomainResolver { get; init; }

    /// <summary>route.default_domain_resolver's strategy: the address family of a name it resolves that is dialed; null = prefer IPv4.</summary>
    public Dns.DnsStrategy? DefaultDomainStrategy { get; init; }

    /// <summary>
    /// route.default_interface: the device the engine's own sockets are bound to when their outbound names none
    /// (SO_BINDTODEVICE); null = the fwmark routes them by the main table. Not used with auto_detect_interface, as in sing-box.
    /// </summary>
    public string? DefaultInterface { get; init; }

    /// <summary>route.rule_set: the rule sets rules name by tag (docs/config.md#rule-set). Default none.</summary>
    public IReadOnlyList<RuleSets.RuleSetOptions> RuleSets { get; init; } = [];
}
