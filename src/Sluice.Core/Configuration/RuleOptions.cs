using Sluice.Core.Tun;

namespace Sluice.Core.Configuration;

/// <summary>One entry of route.rules (or of a logical rule's rules). See docs/config.md for matching.</summary>
public abstract record RuleOptions
{
    /// <summary>Negates the whole rule's match.</summary>
    public bool Invert { get; init; }

    /// <summary>What a top-level rule does when it matches; null inside a logical rule.</summary>
    public RuleAction? Action { get; init; }
}

/// <summary>
/// A rule of matchers: kinds are AND-ed, values within a kind OR-ed, and sing-box's groups are OR-ed
/// as one kind: destination (domain*, ip_cidr, ip_is_private), port (port, port_range), source port
/// (source_port, source_port_range). An empty rule matches every flow.
/// </summary>
public sealed record DefaultRuleOptions : RuleOptions
{
    public IReadOnlyList<string> Inbound { get; init; } = [];
    public IReadOnlyList<string> Network { get; init; } = [];
    public IReadOnlyList<string> Protocol { get; init; } = [];
    public IReadOnlyList<string> Domain { get; init; } = [];
    public IReadOnlyList<string> DomainSuffix { get; init; } = [];
    public IReadOnlyList<string> DomainKeyword { get; init; } = [];
    public IReadOnlyList<string> DomainRegex { get; init; } = [];
    public IReadOnlyList<IpPrefix> IpCidr { get; init; } = [];
    public bool IpIsPrivate { get; init; }
    public IReadOnlyList<IpPrefix> SourceIpCidr { get; init; } = [];
    public IReadOnlyList<ushort> Port { get; init; } = [];
    public IReadOnlyList<PortRange> PortRange { get; init; } = [];
    public IReadOnlyList<ushort> SourcePort { get; init; } = [];
    public IReadOnlyList<PortRange> SourcePortRange { get; init; } = [];
    public IReadOnlyList<string> ProcessName { get; init; } = [];
    public IReadOnlyList<string> ProcessPath { get; init; } = [];
    public IReadOnlyList<string> ProcessPathRegex { get; init; } = [];
    public IReadOnlyList<uint> UserId { get; init; } = [];

    /// <summary>ip_version: 4 or 6 (the flow's address family); null = either.</summary>
    public int? IpVersion { get; init; }

    /// <summary>source_ip_is_private: the source address is private (RFC 1918, ULA, loopback, link-local, ...).</summary>
    public bool SourceIpIsPrivate { get; init; }

    /// <summary>user: names of the local users owning the app's socket (the process lookup's uid, named by the system).</summary>
    public IReadOnlyList<string> User { get; init; } = [];

    /// <summary>Tags of route.rule_set entries; a flow matches when a rule of any of them does (merged into the destination group).</summary>
    public IReadOnlyList<string> RuleSet { get; init; } = [];

    /// <summary>The sets' ip_cidr items test the source address instead of the destination.</summary>
    public bool RuleSetIpCidrMatchSource { get; init; }

    /// <summary>Matches while the Clash mode (rule, global, direct, ...) is this one, compared case-insensitively; null = any mode.</summary>
    public string? ClashMode { get; init; }
}

public enum LogicalMode { And, Or }

/// <summary>{"type":"logical","mode":"and"|"or","rules":[...]}: sub-rules carry no action.</summary>
public sealed record LogicalRuleOptions(LogicalMode Mode, IReadOnlyList<RuleOptions> Rules) : RuleOptions;

/// <summary>An inclusive port range; sing-box's "1000:2000", ":3000" (from 0), "4000:" (to 65535).</summary>
public readonly record struct PortRange(ushort Start, ushort End)
{
    public override string ToString() => $"{Start}:{End}";
}

public abstract record RuleAction;

/// <summary>action "route" (the default when a rule names an outbound).</summary>
public sealed record RouteAction(string Outbound) : RuleAction;

/// <summary>action "reject": method "default" answers TCP RST / ICMP unreachable; "drop" drops silently.</summary>
public sealed record RejectAction(bool Drop) : RuleAction;

/// <summary>action "hijack-dns": the flow goes to the built-in DNS server.</summary>
public sealed record HijackDnsAction : RuleAction;

/// <summary>action "sniff": peek at the first payload, then continue with the next rule.</summary>
/// <param name="Sniffers">Protocols to look for; empty = all the engine knows.</param>
public sealed record SniffAction(IReadOnlyList<string> Sniffers, TimeSpan Timeout) : RuleAction;

/// <summary>
/// action "route-options": not final. It sets options on the flow and matching goes on with the next
/// rule; a later route-options rule overrides the fields it sets.
/// </summary>
/// <param name="OverrideAddress">Dial this address instead of the flow's destination (the app still sees its own).</param>
/// <param name="OverridePort">Dial this port instead.</param>
/// <param name="UdpTimeout">Idle timeout of this flow's UDP session (default: the engine's).</param>
/// <param name="UdpConnect">sing-box connects the outgoing UDP socket; Sluice's direct UDP sockets are always connected.</param>
/// <summary>
/// action "resolve": not final. When the flow's destination is a name (a fake address, a proxy request
/// by name), look the name up and let later IP items (ip_cidr, ip_is_private, rule sets' ip_cidr) test
/// the addresses found; then matching goes on with the next rule.
/// </summary>
/// <param name="Server">The DNS server to ask; null = route.default_domain_resolver (else the first local server, else the host's resolvers).</param>
/// <param name="Strategy">Which families to ask for; null = dns.strategy.</param>
public sealed record ResolveAction(string? Server, Dns.DnsStrategy? Strategy) : RuleAction;

public sealed record RouteOptionsAction(Packets.NetAddress? OverrideAddress, ushort? OverridePort, TimeSpan? UdpTimeout, bool UdpConnect) : RuleAction;
