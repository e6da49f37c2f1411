using System.Text.Json;

namespace Sluice.Core.Configuration;

/// <summary>"route": {"rules", "final", "auto_detect_interface", "default_interface", "default_mark", …}.</summary>
internal static class RouteSection
{
    private static readonly HashSet<string> Unsupported = new(StringComparer.Ordinal)
    {
        "default_network_strategy", "default_network_type", "default_fallback_network_type", "default_fallback_delay",
    };

    public static void Parse(JsonElement element, string path, ConfigBuilder config)
    {
        if (ObjectReader.Open(element, path, config.Errors) is not { } r) return;
        var ruleSets = RuleSetSection.Parse(r, config);
        foreach (string removed in new[] { "geoip", "geosite" })
        {
            if (r.Take(removed) is not null)
                config.Errors.Add(r.PathOf(removed), $"removed in sing-box 1.12: the {removed} database is replaced by rule sets (route.rule_set, type \"remote\", format \"binary\", url of a sing-{removed} .srs file)");
        }
        var rules = new List<RuleOptions>();
        if (r.Take("rules") is { } rulesElement)
        {
            string rulesPath = r.PathOf("rules");
            if (rulesElement.ValueKind != JsonValueKind.Array)
            {
                ObjectReader.TypeError(rulesPath, "an array", rulesElement, config.Errors);
            }
            else
            {
                int i = 0;
                foreach (var item in rulesElement.EnumerateArray())
                {
                    if (RuleParser.Parse(item, JsonPath.Index(rulesPath, i++), config, topLevel: true) is { } rule) rules.Add(rule);
                }
            }
        }
        string? final = r.String("final");
        if (final is { Length: 0 }) final = null;
        if (final is not null) config.ReferenceOutbound(final, r.PathOf("final"));
        bool autoDetect = r.Bool("auto_detect_interface", false);
        string? defaultInterface = r.Interface("default_interface");
        uint? mark = r.Mark("default_mark");
        // The gate passes `meta mark M` and the policy rule is `not fwmark M`: with M = 0 every unmarked
        // packet would pass the gate and none would enter the tunnel, while `gate status` still said closed.
        if (mark == 0) config.Errors.Add(r.PathOf("default_mark"), "0 is every unmarked packet: the gate would let all traffic out and the tunnel would capture none; omit it (default 0x534c) or pick a non-zero mark");
        var (domainResolver, domainStrategy) = DnsSection.ParseDomainResolver(r, "default_domain_resolver");
        // sing-box's switch for process lookups. Sluice looks a process up when a rule asks for it, and for the
        // connection lists (`sluice connections`, /connections) when they are read: either value is what it does.
        r.Bool("find_process", false);
        // Android's switch (route around other VPN apps); configs exported from the Android client carry it. Nothing to do on Linux.
        r.Bool("override_android_vpn", false);
        r.Finish(f => Unsupported.Contains(f) ? "not supported by Sluice yet" : null);
        config.Route = new RouteOptions(rules, final, autoDetect, mark) { DefaultDomainResolver = domainResolver, DefaultDomainStrategy = domainStrategy, RuleSets = ruleSets, DefaultInterface = defaultInterface };
    }
}
