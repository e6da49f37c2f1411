using System.Globalization;
using Sluice.Core.Configuration;
using Sluice.Core.Dns;
using Sluice.Core.Routing;

namespace Sluice.Core.RuleSets;

/// <summary>
/// One rule set compiled for the places that use it: route rules (ip_cidr against the destination,
/// or against the source for rule_set_ip_cidr_match_source) and DNS rules (the query's name and type).
/// Immutable; a reloaded set is a new instance swapped into its <see cref="RuleSetHandle"/>.
/// Items a Linux host cannot know (package_name, network_type, wifi_*) make a rule that never matches,
/// as sing-box does off Android and Apple platforms; query_type never matches a connection.
/// </summary>
internal sealed class CompiledRuleSet
{
    private CompiledRuleSet(RuleSetContent content, CompiledRule[]? route, CompiledRule[]? routeBySource, DnsRule[]? dns)
    {
        Content = content;
        Route = route ?? [];
        RouteBySource = routeBySource ?? [];
        Dns = dns ?? [];
    }

    public RuleSetContent Content { get; }

    public CompiledRule[] Route { get; }

    public CompiledRule[] RouteBySource { get; }

    public DnsRule[] Dns { get; }

    /// <exception cref="RuleSetFormatException">A value the readers let through cannot be compiled (a binary file's regex or port range).</exception>
    public static CompiledRuleSet Compile(RuleSetContent content, RuleSetUsage usage)
    {
        try
        {
            return CompileCore(content, usage);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            throw new RuleSetFormatException($"cannot be compiled: {e.Message}");
        }
    }

    private static CompiledRuleSet CompileCore(RuleSetContent content, RuleSetUsage usage)
    {
        var route = usage.HasFlag(RuleSetUsage.Route) ? content.Rules.Select(r => CompiledRule.Compile(ToRouteRule(r, bySource: false))).ToArray() : null;
        var bySource = usage.HasFlag(RuleSetUsage.RouteBySource) ? content.Rules.Select(r => CompiledRule.Compile(ToRouteRule(r, bySource: true))).ToArray() : null;
        var dns = usage.HasFlag(RuleSetUsage.Dns) ? content.Rules.Select(r => DnsRule.Compile(ToDnsRule(r))).ToArray() : null;
        return new CompiledRuleSet(content, route, bySource, dns);
    }

    internal static RuleOptions ToRouteRule(HeadlessRule rule, bool bySource)
    {
        if (rule is LogicalHeadlessRule l)
            return new LogicalRuleOptions(l.Mode, l.Rules.Select(r => ToRouteRule(r, bySource)).ToArray()) { Invert = l.Invert };
        var d = (DefaultHeadlessRule)rule;
        if (d.NeedsMobilePlatform || d.QueryType.Count > 0) return NeverRouteRule(d.Invert);
        return new DefaultRuleOptions
        {
            Invert = d.Invert,
            Network = d.Network,
            Domain = Lower(d.Domain),
            DomainSuffix = Lower(d.DomainSuffix),
            DomainKeyword = Lower(d.DomainKeyword),
            DomainRegex = d.DomainRegex,
            IpCidr = bySource ? [] : d.IpCidr,
            SourceIpCidr = bySource ? d.SourceIpCidr.Concat(d.IpCidr).ToArray() : d.SourceIpCidr,
            Port = d.Port,
            PortRange = d.PortRange.Select(ParsePortRange).ToArray(),
            SourcePort = d.SourcePort,
            SourcePortRange = d.SourcePortRange.Select(ParsePortRange).ToArray(),
            ProcessName = d.ProcessName,
            ProcessPath = d.ProcessPath,
            ProcessPathRegex = d.ProcessPathRegex,
        };
    }

    /// <remarks>
    /// A plain, not inverted rule whose only destination items are ip_cidr (a geoip set) becomes an address filter: it
    /// tests the answer of the referencing rule's server (sing-box's address filter fields). Inside a logical or
    /// inverted rule an ip_cidr without a name never matches a query, as before answers were tested.
    /// </remarks>
    internal static DnsRuleOptions ToDnsRule(HeadlessRule rule) => ToDnsRule(rule, nested: false);

    private static DnsRuleOptions ToDnsRule(HeadlessRule rule, bool nested)
    {
        if (rule is LogicalHeadlessRule l)
            return new LogicalDnsRuleOptions(l.Mode, l.Rules.Select(r => ToDnsRule(r, nested: true)).ToArray()) { Invert = l.Invert };
        var d = (DefaultHeadlessRule)rule;
        bool hasName = d.Domain.Count + d.DomainSuffix.Count + d.DomainKeyword.Count + d.DomainRegex.Count > 0;
        bool addressFilter = d.IpCidr.Count > 0 && !hasName && !nested && !d.Invert;
        // A query has a name and a type but no address, port or network yet: rules that need one never match it.
        bool needsConnection = d.Network.Count + d.SourceIpCidr.Count + d.Port.Count + d.PortRange.Count + d.SourcePort.Count + d.SourcePortRange.Count > 0
            || (d.IpCidr.Count > 0 && !hasName && !addressFilter);
        if (d.NeedsMobilePlatform || needsConnection) return NeverDnsRule(d.Invert);
        return new DefaultDnsRuleOptions
        {
            IpCidr = addressFilter ? d.IpCidr : [],
            InRuleSet = true,
            Invert = d.Invert,
            QueryType = d.QueryType,
            Domain = Lower(d.Domain),
            DomainSuffix = Lower(d.DomainSuffix),
            DomainKeyword = Lower(d.DomainKeyword),
            DomainRegex = d.DomainRegex,
            ProcessName = d.ProcessName,
            ProcessPath = d.ProcessPath,
            ProcessPathRegex = d.ProcessPathRegex,
        };
    }

    // "A rule that matches nothing": an OR of no rules; inverted, it matches everything.
    private static RuleOptions NeverRouteRule(bool invert) => new LogicalRuleOptions(LogicalMode.Or, []) { Invert = invert };

    private static DnsRuleOptions NeverDnsRule(bool invert) => new LogicalDnsRuleOptions(LogicalMode.Or, []) { Invert = invert };

    private static string[] Lower(IReadOnlyList<string> values) => values.Select(v => v.TrimEnd('.').ToLowerInvariant()).ToArray();

    /// <summary>"1000:2000", ":3000", "4000:" (checked when the set was read).</summary>
    private static PortRange ParsePortRange(string text)
    {
        int colon = text.IndexOf(':');
        ushort start = colon > 0 ? ushort.Parse(text.AsSpan(0, colon), CultureInfo.InvariantCulture) : (ushort)0;
        ushort end = colon + 1 < text.Length ? ushort.Parse(text.AsSpan(colon + 1), CultureInfo.InvariantCulture) : ushort.MaxValue;
        return new PortRange(start, end);
    }
}

/// <summary>Where a rule set is referenced, so only the forms in use are compiled.</summary>
[Flags]
public enum RuleSetUsage
{
    None = 0,
    Route = 1,
    RouteBySource = 2,
    Dns = 4,
}
