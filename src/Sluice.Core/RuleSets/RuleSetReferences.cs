using Sluice.Core.Configuration;
using Sluice.Core.Dns;

namespace Sluice.Core.RuleSets;

/// <summary>Which rule sets the route and DNS rules name, and how (destination, source, DNS).</summary>
internal static class RuleSetReferences
{
    public static Dictionary<string, RuleSetUsage> Scan(SluiceConfig config)
    {
        var usage = new Dictionary<string, RuleSetUsage>(StringComparer.Ordinal);
        foreach (var rule in config.Route.Rules) Route(rule, usage);
        foreach (var rule in config.Dns.Rules) Dns(rule, usage);
        foreach (var tun in config.TunInbounds)
            foreach (string tag in tun.RouteAddressSet.Concat(tun.RouteExcludeAddressSet)) Add(usage, tag, RuleSetUsage.None);
        return usage;
    }

    private static void Route(RuleOptions rule, Dictionary<string, RuleSetUsage> usage)
    {
        if (rule is LogicalRuleOptions l)
        {
            foreach (var sub in l.Rules) Route(sub, usage);
            return;
        }
        var d = (DefaultRuleOptions)rule;
        foreach (string tag in d.RuleSet) Add(usage, tag, d.RuleSetIpCidrMatchSource ? RuleSetUsage.RouteBySource : RuleSetUsage.Route);
    }

    private static void Dns(DnsRuleOptions rule, Dictionary<string, RuleSetUsage> usage)
    {
        if (rule is LogicalDnsRuleOptions l)
        {
            foreach (var sub in l.Rules) Dns(sub, usage);
            return;
        }
        foreach (string tag in ((DefaultDnsRuleOptions)rule).RuleSet) Add(usage, tag, RuleSetUsage.Dns);
    }

    private static void Add(Dictionary<string, RuleSetUsage> usage, string tag, RuleSetUsage use) =>
        usage[tag] = usage.GetValueOrDefault(tag) | use;
}
