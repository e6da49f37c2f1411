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
    /// <param name="remembered">The mode the cache file kept from the last run; used when it is still a known mode.</param>
    public static ClashModeState Create(SluiceConfig config, string? remembered = null)
    {
        string initial = config.Experimental.ClashApi?.DefaultMode ?? "rule";
        var known = new List<string>();
        foreach (string mode in RuleModes(config).Prepend(initial).Concat(["rule", "global", "direct"]))
            if (!known.Contains(mode, StringComparer.OrdinalIgnoreCase)) known.Add(mode);
        if (remembered is not null && known.FirstOrDefault(k => string.Equals(k, remembered, StringComparison.OrdinalIgnoreCase)) is { } kept) initial = kept;
        return new ClashModeState(initial) { Known = known };
    }

    /// <summary>
    /// Selectors take the member the cache file remembers, urltest/fallback groups the member they were pinned to
    /// (when it is still a member), and each new pick or pin is remembered.
    /// </summary>
    public static void RememberSelections(IEnumerable<Outbounds.IOutbound> outbounds, State.CacheFile cache)
    {
        foreach (var group in outbounds.OfType<Outbounds.Groups.OutboundGroup>())
        {
            if (group.Type == "selector")
            {
                if (cache.SelectedOf(group.Tag) is { } member) group.Select(member);
                group.Selected += (g, picked) => cache.SetSelected(g.Tag, picked);
                continue;
            }
            if (cache.PinnedOf(group.Tag) is { } pinned) group.Pin(pinned);
            group.PinChanged += (g, tag) => cache.SetPinned(g.Tag, tag);
        }
    }

    /// <summary>Remote rule-set bodies: rule-sets/ beside the cache file when one is configured, else in the state directory (SLUICE_STATE_DIR, default /var/lib/sluice).</summary>
    public static string RuleSetCacheDirectory(SluiceConfig config) =>
        Path.Combine(config.Experimental.CacheFile is { } cache ? Path.GetDirectoryName(Path.GetFullPath(cache.Path))! : ConfigDefaults.StateDirectory, "rule-sets");

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
