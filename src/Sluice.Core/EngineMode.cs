using Sluice.Core.Configuration;
using Sluice.Core.Dns;
using Sluice.Core.Routing;
using Sluice.Core.Tun;

namespace Sluice.Core;

/// <summary>What the engine derives from a config for rule sets and the Clash mode at start.</summary>
internal static class EngineMode
{
    /// <summary>
    /// The mode state: experimental.clash_api.default_mode (default "rule"); the modes a client may pick are
    /// that one, "rule", "global", "direct", and every clash_mode the route and DNS rules name.
    /// </summary>
    public static ClashModeState Create(SluiceConfig config)
    {
        string initial = config.Experimental.ClashApi?.DefaultMode ?? "rule";
        var known = new List<string>();
        foreach (string mode in RuleModes(config).Prepend(initial).Concat(["rule", "global", "direct"]))
            if (!known.Contains(mode, StringComparer.OrdinalIgnoreCase)) known.Add(mode);
        return new ClashModeState(initial) { Known = known };
    }

    /// <summary>Remote rule-set bodies live in the state directory (SLUICE_STATE_DIR, default /var/lib/sluice) under rule-sets/.</summary>
    public static string RuleSetCacheDirectory(SluiceConfig config) => Path.Combine(ConfigDefaults.StateDirectory, "rule-sets");

    /// <summary>route_address(_exclude) plus the ip_cidr items of the named sets, as loaded at start.</summary>
    public static IReadOnlyList<IpPrefix> WithSets(IReadOnlyList<IpPrefix> prefixes, IReadOnlyList<string> sets, RuleSets.RuleSetLibrary? library)
    {
        if (sets.Count == 0 || library is null) return prefixes;
        var all = prefixes.ToList();
        foreach (string tag in sets)
        {
            if (library.Handles.GetValueOrDefault(tag)?.Content is not { } content) continue;
            foreach (var rule in content.Rules.OfType<RuleSets.DefaultHeadlessRule>()) all.AddRange(rule.IpCidr);
        }
        return all;
    }

    private static IEnumerable<string> RuleModes(SluiceConfig config)
    {
        foreach (var rule in config.Route.Rules)
            foreach (string m in Route(rule)) yield return m;
        foreach (var rule in config.Dns.Rules)
            foreach (string m in Dns(rule)) yield return m;

        static IEnumerable<string> Route(RuleOptions r) => r switch
        {
            DefaultRuleOptions { ClashMode: { } m } => [m],
            LogicalRuleOptions l => l.Rules.SelectMany(Route),
            _ => [],
        };

        static IEnumerable<string> Dns(DnsRuleOptions r) => r switch
        {
            DefaultDnsRuleOptions { ClashMode: { } m } => [m],
            LogicalDnsRuleOptions l => l.Rules.SelectMany(Dns),
            _ => [],
        };
    }
}
