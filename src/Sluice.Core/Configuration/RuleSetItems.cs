using System.Text.Json;

namespace Sluice.Core.Configuration;

/// <summary>
/// The rule items route and DNS rules share for rule sets and the Clash mode: "rule_set",
/// "rule_set_ip_cidr_match_source", "clash_mode"; and the removed geosite/geoip items, refused with
/// what to write instead.
/// </summary>
internal static class RuleSetItems
{
    public static IReadOnlyList<string> ReadReferences(ObjectReader r, ConfigBuilder config)
    {
        RefuseRemoved(r);
        var tags = r.List("rule_set", RuleParser.NonEmpty);
        bool single = r.Take("rule_set") is { ValueKind: not JsonValueKind.Array };
        for (int i = 0; i < tags.Count; i++)
            config.RuleSetReferences.Add((tags[i], single ? r.PathOf("rule_set") : JsonPath.Index(r.PathOf("rule_set"), i)));
        return tags;
    }

    /// <summary>A tun inbound's route_address_set / route_exclude_address_set: rule-set tags.</summary>
    public static IReadOnlyList<string> ReadTunSets(ObjectReader r, string name, ConfigBuilder config)
    {
        var tags = r.List(name, RuleParser.NonEmpty);
        foreach (string tag in tags) config.RuleSetReferences.Add((tag, r.PathOf(name)));
        return tags;
    }

    public static bool ReadMatchSource(ObjectReader r)
    {
        if (r.Take("rule_set_ipcidr_match_source") is not null)
            r.Errors.Add(r.PathOf("rule_set_ipcidr_match_source"), "renamed in sing-box 1.10 and removed in 1.11: write \"rule_set_ip_cidr_match_source\"");
        return r.Bool("rule_set_ip_cidr_match_source", false);
    }

    public static string? ReadClashMode(ObjectReader r)
    {
        string? mode = r.String("clash_mode");
        if (mode is { Length: 0 }) r.Errors.Add(r.PathOf("clash_mode"), "must not be empty (a mode such as \"rule\", \"global\" or \"direct\")");
        return mode is { Length: > 0 } ? mode : null;
    }

    /// <summary>geosite/geoip databases were removed in sing-box 1.12; their replacement is a rule set per list.</summary>
    private static void RefuseRemoved(ObjectReader r)
    {
        foreach (var (field, kind) in new[] { ("geosite", "geosite"), ("geoip", "geoip"), ("source_geoip", "geoip") })
        {
            if (r.Take(field) is not { } value) continue;
            string example = value.ValueKind == JsonValueKind.String ? value.GetString()!
                : value.ValueKind == JsonValueKind.Array && value.GetArrayLength() > 0 && value[0].ValueKind == JsonValueKind.String ? value[0].GetString()! : "cn";
            string tag = $"{kind}-{example}";
            string match = field == "source_geoip" ? ", \"rule_set_ip_cidr_match_source\": true" : "";
            r.Errors.Add(r.PathOf(field),
                $"removed in sing-box 1.12: use a rule set instead — \"rule_set\": [\"{tag}\"]{match} in this rule, and in route.rule_set " +
                $"{{\"type\": \"remote\", \"tag\": \"{tag}\", \"format\": \"binary\", \"url\": \"https://raw.githubusercontent.com/SagerNet/sing-{kind}/rule-set/{tag}.srs\"}}");
        }
    }
}
