using Sluice.Core.Configuration;
using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Core.Dns;

/// <summary>The "dns" section (sing-box 1.12 syntax), validated. See docs/config.md#dns.</summary>
public sealed record DnsOptions
{
    /// <summary>No "dns" section: one implied <c>local</c> server, cache on.</summary>
    public static DnsOptions Empty { get; } = new();

    public IReadOnlyList<DnsServerOptions> Servers { get; init; } = [];

    public IReadOnlyList<DnsRuleOptions> Rules { get; init; } = [];

    /// <summary>Server for queries no rule routes; default the first server.</summary>
    public string? Final { get; init; }

    public DnsStrategy Strategy { get; init; } = DnsStrategy.AsIs;

    public bool DisableCache { get; init; }

    /// <summary>
    /// Accepted for sing-box compatibility; Sluice always keeps answers per server, because a shared
    /// cache would let a plain resolver's answer serve a query a rule sent to the tunnel.
    /// </summary>
    public bool IndependentCache { get; init; }

    /// <summary>Cached questions; sing-box raises values under 1024 to 1024, and so does Sluice.</summary>
    public int CacheCapacity { get; init; } = DefaultCacheCapacity;

    /// <summary>Remember IP → name from answers, for domain rules on IP flows. Sluice default true (sing-box: false).</summary>
    public bool ReverseMapping { get; init; } = true;

    /// <summary>Sluice extension: how long one upstream exchange may take before the client gets SERVFAIL.</summary>
    public TimeSpan Timeout { get; init; } = DefaultTimeout;

    /// <summary>dns.client_subnet: the EDNS Client Subnet prefix added to every upstream query; null = none.</summary>
    public IpPrefix? ClientSubnet { get; init; }

    /// <summary>route.default_domain_resolver, copied here: the server for the engine's own lookups; null = the first local server, else the host's resolvers.</summary>
    public string? DefaultDomainResolver { get; init; }

    /// <summary>Its strategy for the proxy server names it resolves (route.default_domain_resolver.strategy); null = prefer IPv4.</summary>
    public DnsStrategy? DefaultDomainStrategy { get; init; }

    public const int DefaultCacheCapacity = 1024;

    public static TimeSpan DefaultTimeout => TimeSpan.FromSeconds(5);
}

public enum DnsStrategy
{
    AsIs,
    PreferIpv4,
    PreferIpv6,
    Ipv4Only,
    Ipv6Only,
}

public static class DnsStrategyNames
{
    /// <summary>The strategy as configs write it ("ipv6_only"); "" for <see cref="DnsStrategy.AsIs"/>.</summary>
    public static string ConfigName(this DnsStrategy strategy) => strategy switch
    {
        DnsStrategy.PreferIpv4 => "prefer_ipv4",
        DnsStrategy.PreferIpv6 => "prefer_ipv6",
        DnsStrategy.Ipv4Only => "ipv4_only",
        DnsStrategy.Ipv6Only => "ipv6_only",
        _ => "",
    };
}

public abstract record DnsServerOptions(string Type, string Tag)
{
    /// <summary>client_subnet for this server's queries (overrides dns.client_subnet); null = the global one.</summary>
    public IpPrefix? ClientSubnet { get; init; }
}

/// <param name="Type">udp, tcp, tls or https.</param>
/// <param name="Server">An address, or a host name resolved through <see cref="DomainResolver"/>.</param>
/// <param name="Path">https only: the URL path, default "/dns-query".</param>
/// <param name="Detour">Outbound or endpoint tag to reach the server through; null = direct.</param>
/// <param name="DomainResolver">DNS server tag that resolves <see cref="Server"/> when it is a name.</param>
public sealed record RemoteDnsServerOptions(
    string Type,
    string Tag,
    string Server,
    ushort Port,
    string? Path,
    string? Detour,
    string? DomainResolver,
    DnsTlsOptions? Tls) : DnsServerOptions(Type, Tag);

/// <param name="ServerName">SNI and the name the certificate must carry; default the server name.</param>
/// <param name="Insecure">Accept any certificate. Risk: anyone on the path can answer.</param>
/// <param name="CertificatePath">A PEM file of roots to trust instead of the system's.</param>
public sealed record DnsTlsOptions(string? ServerName, bool Insecure, string? CertificatePath)
{
    /// <summary>How the file it names is read (the config's origin decides: the API caller's rights, caps, regular files only).</summary>
    public Sluice.Core.Configuration.IFileSource Files { get; init; } = Sluice.Core.Configuration.BoundedFileSource.Instance;
}

/// <summary>Answers A/AAAA with addresses from the ranges, mapped back to the name (TTL 1, kept in memory only).</summary>
public sealed record FakeIpDnsServerOptions(string Tag, IpPrefix? Inet4Range, IpPrefix? Inet6Range) : DnsServerOptions("fakeip", Tag)
{
    public static readonly IpPrefix DefaultInet4Range = IpPrefix.Parse("198.18.0.0/15");
    public static readonly IpPrefix DefaultInet6Range = IpPrefix.Parse("fc00::/18");
}

/// <summary>The host's resolvers from /etc/resolv.conf, over marked UDP on the direct lane.</summary>
public sealed record LocalDnsServerOptions(string Tag) : DnsServerOptions("local", Tag);

/// <summary>Answers from hosts files and predefined entries; names it does not know get NXDOMAIN.</summary>
public sealed record HostsDnsServerOptions(string Tag, IReadOnlyList<string> Paths, IReadOnlyDictionary<string, IReadOnlyList<NetAddress>> Predefined)
    : DnsServerOptions("hosts", Tag)
{
    /// <summary>How the file it names is read (the config's origin decides: the API caller's rights, caps, regular files only).</summary>
    public Sluice.Core.Configuration.IFileSource Files { get; init; } = Sluice.Core.Configuration.BoundedFileSource.Instance;
}

/// <summary>A DNS rule (sing-box dns.rules): matchers plus an action, first match wins.</summary>
public abstract record DnsRuleOptions
{
    public bool Invert { get; init; }

    /// <summary>Null inside a logical rule.</summary>
    public DnsRuleAction? Action { get; init; }
}

/// <summary>(domain | domain_suffix | domain_keyword | domain_regex) &amp; query_type &amp; inbound &amp; each process field.</summary>
public sealed record DefaultDnsRuleOptions : DnsRuleOptions
{
    public IReadOnlyList<string> Inbound { get; init; } = [];
    public IReadOnlyList<ushort> QueryType { get; init; } = [];
    public IReadOnlyList<string> Domain { get; init; } = [];
    public IReadOnlyList<string> DomainSuffix { get; init; } = [];
    public IReadOnlyList<string> DomainKeyword { get; init; } = [];
    public IReadOnlyList<string> DomainRegex { get; init; } = [];
    public IReadOnlyList<string> ProcessName { get; init; } = [];
    public IReadOnlyList<string> ProcessPath { get; init; } = [];
    public IReadOnlyList<string> ProcessPathRegex { get; init; } = [];
    public IReadOnlyList<uint> UserId { get; init; } = [];

    /// <summary>Tags of route.rule_set entries; matched on the query's name and type (merged into the domain group).</summary>
    public IReadOnlyList<string> RuleSet { get; init; } = [];

    /// <summary>Accepted for sing-box configs; the sets' ip_cidr items would test the querier's address, which a query does not carry, so they never match it.</summary>
    public bool RuleSetIpCidrMatchSource { get; init; }

    /// <summary>Matches while the Clash mode is this one (case-insensitive); null = any mode.</summary>
    public string? ClashMode { get; init; }

    /// <summary>Address filter (sing-box's "address filter fields"): an answer address in one of these prefixes.</summary>
    public IReadOnlyList<IpPrefix> IpCidr { get; init; } = [];

    /// <summary>Address filter: an answer address that is private (the route rules' ip_is_private list).</summary>
    public bool IpIsPrivate { get; init; }

    /// <summary>Address filter: the answer has at least one address.</summary>
    public bool IpAcceptAny { get; init; }

    /// <summary>The ip_cidr rules of the named rule sets also accept an answer without addresses.</summary>
    public bool RuleSetIpCidrAcceptEmpty { get; init; }

    /// <summary>
    /// Set for the DNS form of a rule set's rule: its empty-answer behaviour comes from the referencing rule's
    /// rule_set_ip_cidr_accept_empty instead of its own.
    /// </summary>
    internal bool InRuleSet { get; init; }

    /// <summary>True when the rule tests the answer's addresses: it is decided after its server answered.</summary>
    public bool HasAddressFilter => IpCidr.Count > 0 || IpIsPrivate || IpAcceptAny;
}

public sealed record LogicalDnsRuleOptions(LogicalMode Mode, IReadOnlyList<DnsRuleOptions> Rules) : DnsRuleOptions;

public abstract record DnsRuleAction;

/// <param name="Strategy">Overrides dns.strategy for this query.</param>
/// <param name="DisableCache">Neither read nor fill the cache for this query.</param>
public sealed record DnsRouteAction(string Server, DnsStrategy? Strategy = null, bool DisableCache = false) : DnsRuleAction
{
    /// <summary>client_subnet for the queries this rule routes (overrides the server's and the global one).</summary>
    public IpPrefix? ClientSubnet { get; init; }

    /// <summary>rewrite_ttl: every record of the answer this rule's server gives is sent with this TTL (the cache keeps the real one).</summary>
    public uint? RewriteTtl { get; init; }
}

/// <summary>method "default" answers REFUSED; "drop" does not answer.</summary>
public sealed record DnsRejectAction(bool Drop) : DnsRuleAction;

/// <summary>Answers with a fixed rcode and records in zone-file text ("localhost. IN A 127.0.0.1").</summary>
public sealed record DnsPredefinedAction(DnsRcode Rcode, IReadOnlyList<string> Answer, IReadOnlyList<string> Ns, IReadOnlyList<string> Extra) : DnsRuleAction;
