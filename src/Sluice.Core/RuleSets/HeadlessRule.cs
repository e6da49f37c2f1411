using Sluice.Core.Configuration;
using Sluice.Core.Tun;

namespace Sluice.Core.RuleSets;

/// <summary>
/// One rule of a rule set (sing-box's "headless rule": matchers without an action). Both formats read
/// into this model and write from it: the JSON source (docs/config.md#rule-set-source) and the
/// binary .srs. Strings are kept as written, so a compiled file carries exactly what the source said.
/// </summary>
public abstract record HeadlessRule
{
    public bool Invert { get; init; }
}

/// <summary>A rule of matchers; kinds AND-ed, values within a kind OR-ed, as a route rule's.</summary>
public sealed record DefaultHeadlessRule : HeadlessRule
{
    public IReadOnlyList<ushort> QueryType { get; init; } = [];
    public IReadOnlyList<string> Network { get; init; } = [];
    public IReadOnlyList<string> Domain { get; init; } = [];
    public IReadOnlyList<string> DomainSuffix { get; init; } = [];
    public IReadOnlyList<string> DomainKeyword { get; init; } = [];
    public IReadOnlyList<string> DomainRegex { get; init; } = [];
    public IReadOnlyList<IpPrefix> SourceIpCidr { get; init; } = [];
    public IReadOnlyList<IpPrefix> IpCidr { get; init; } = [];
    public IReadOnlyList<ushort> SourcePort { get; init; } = [];
    public IReadOnlyList<string> SourcePortRange { get; init; } = [];
    public IReadOnlyList<ushort> Port { get; init; } = [];
    public IReadOnlyList<string> PortRange { get; init; } = [];
    public IReadOnlyList<string> ProcessName { get; init; } = [];
    public IReadOnlyList<string> ProcessPath { get; init; } = [];
    public IReadOnlyList<string> ProcessPathRegex { get; init; } = [];
    public IReadOnlyList<string> PackageName { get; init; } = [];

    /// <summary>"wifi", "cellular", "ethernet", "other" as their sing-box numbers 0–3 (version 3).</summary>
    public IReadOnlyList<byte> NetworkType { get; init; } = [];
    public bool NetworkIsExpensive { get; init; }
    public bool NetworkIsConstrained { get; init; }
    public IReadOnlyList<string> WifiSsid { get; init; } = [];
    public IReadOnlyList<string> WifiBssid { get; init; } = [];

    /// <summary>True when the rule names a matcher that a Linux host cannot know (package, network type, Wi-Fi): it never matches here.</summary>
    public bool NeedsMobilePlatform =>
        PackageName.Count > 0 || NetworkType.Count > 0 || NetworkIsExpensive || NetworkIsConstrained || WifiSsid.Count > 0 || WifiBssid.Count > 0;

    /// <summary>An empty rule: sing-box refuses one ("missing conditions"), so do both readers.</summary>
    public bool IsEmpty =>
        QueryType.Count + Network.Count + Domain.Count + DomainSuffix.Count + DomainKeyword.Count + DomainRegex.Count
        + SourceIpCidr.Count + IpCidr.Count + SourcePort.Count + SourcePortRange.Count + Port.Count + PortRange.Count
        + ProcessName.Count + ProcessPath.Count + ProcessPathRegex.Count == 0 && !NeedsMobilePlatform;
}

/// <summary>{"type":"logical","mode":"and"|"or","rules":[...]}.</summary>
public sealed record LogicalHeadlessRule(LogicalMode Mode, IReadOnlyList<HeadlessRule> Rules) : HeadlessRule;

/// <summary>A whole rule set: its version (1–4) and rules. The version decides the .srs encoding of domain_suffix.</summary>
public sealed record RuleSetContent(byte Version, IReadOnlyList<HeadlessRule> Rules)
{
    public const byte MaxVersion = 4;

    /// <summary>What a converted source left out (a Clash provider's lines of types Sluice does not match), for the log; null when nothing.</summary>
    public string? Skipped { get; init; }

    /// <summary>Domains and suffixes and CIDRs in all rules, for logs ("12,034 domains, 800 CIDRs").</summary>
    public string Summary()
    {
        var (domains, cidrs, _) = Count();
        return $"{Rules.Count} rule(s), {domains} domain item(s), {cidrs} CIDR(s)" + (Skipped is null ? "" : $"; {Skipped}");
    }

    /// <summary>Domain items, CIDRs (destination and source), and every other item, over all rules (logical ones too).</summary>
    public (long Domains, long Cidrs, long Others) Count()
    {
        long domains = 0, cidrs = 0, others = 0;
        Walk(Rules);
        return (domains, cidrs, others);

        void Walk(IReadOnlyList<HeadlessRule> rules)
        {
            foreach (var rule in rules)
            {
                if (rule is DefaultHeadlessRule d)
                {
                    domains += d.Domain.Count + d.DomainSuffix.Count + d.DomainKeyword.Count + d.DomainRegex.Count;
                    cidrs += d.IpCidr.Count + d.SourceIpCidr.Count;
                    others += d.QueryType.Count + d.Network.Count + d.SourcePort.Count + d.SourcePortRange.Count + d.Port.Count + d.PortRange.Count
                        + d.ProcessName.Count + d.ProcessPath.Count + d.ProcessPathRegex.Count + d.PackageName.Count;
                }
                else if (rule is LogicalHeadlessRule l)
                {
                    Walk(l.Rules);
                }
            }
        }
    }
}

/// <summary>A rule-set file or body that cannot be used; the message names the place and the reason.</summary>
public sealed class RuleSetFormatException(string message) : Exception(message);
