using System.Text.Json;
using Sluice.Core.RuleSets;

namespace Sluice.Core.Configuration;

/// <summary>
/// route.rule_set: [{"type": "inline"|"local"|"remote", "tag", "format", ...}] (sing-box 1.10+ syntax).
/// Local and remote formats default from the extension (.json source, .srs binary, as sing-box; .mrs mihomo's binary).
/// </summary>
internal static class RuleSetSection
{
    /// <summary>A remote set is not refreshed more often than this (a typo like "1s" would hammer the server).</summary>
    public static readonly TimeSpan MinUpdateInterval = TimeSpan.FromSeconds(10);

    public static List<RuleSetOptions> Parse(ObjectReader route, ConfigBuilder config)
    {
        var sets = new List<RuleSetOptions>();
        if (route.Take("rule_set") is not { } element) return sets;
        string path = route.PathOf("rule_set");
        var errors = config.Errors;
        if (element.ValueKind != JsonValueKind.Array)
        {
            ObjectReader.TypeError(path, "an array of rule sets", element, errors);
            return sets;
        }
        var tags = new HashSet<string>(StringComparer.Ordinal);
        int i = 0;
        foreach (var item in element.EnumerateArray())
        {
            string at = JsonPath.Index(path, i++);
            if (ObjectReader.Open(item, at, errors) is not { } r) continue;
            if (ParseOne(r, config) is { } set)
            {
                if (!tags.Add(set.Tag)) errors.Add(r.PathOf("tag"), $"another rule set already has tag {JsonPath.Quote(set.Tag)}");
                else sets.Add(set);
            }
            else if (item.TryGetProperty("tag", out var tag) && tag.ValueKind == JsonValueKind.String)
            {
                config.TagsWithErrors.Add(tag.GetString()!); // its own error says why; rules naming it get no second one
            }
        }
        return sets;
    }

    public static void CheckReferences(ConfigBuilder config)
    {
        var tags = config.Route.RuleSets.Select(s => s.Tag).ToHashSet(StringComparer.Ordinal);
        foreach (var (tag, path) in config.RuleSetReferences)
        {
            if (!tags.Contains(tag) && !config.TagsWithErrors.Contains(tag))
                config.Errors.Add(path, tags.Count == 0
                    ? $"no rule set has tag {JsonPath.Quote(tag)}: define it in route.rule_set"
                    : $"no rule set has tag {JsonPath.Quote(tag)} (route.rule_set has: {string.Join(", ", tags)})");
        }
    }

    private static RuleSetOptions? ParseOne(ObjectReader r, ConfigBuilder config)
    {
        var errors = r.Errors;
        int before = errors.Count;
        string? tag = r.String("tag");
        if (string.IsNullOrEmpty(tag) && !(r.Has("tag") && tag is null)) errors.Add(r.PathOf("tag"), "required: the name rules use in \"rule_set\"");
        string type = r.String("type") ?? "inline";
        string? formatText = r.String("format");
        RuleSetOptions? result = null;
        switch (type)
        {
            case "inline":
                if (formatText is not null) errors.Add(r.PathOf("format"), "an inline rule set has no format (its rules are in the config)");
                var rules = SourceRuleSet.ReadRules(r, "rules", errors);
                if (!r.Has("rules")) errors.Add(r.PathOf("rules"), "required for an inline rule set: an array of rules");
                result = new InlineRuleSetOptions(tag ?? "", new RuleSetContent(RuleSetContent.MaxVersion, rules));
                break;
            case "local":
                string? file = r.String("path");
                if (string.IsNullOrEmpty(file)) errors.Add(r.PathOf("path"), "required for a local rule set: the file's path");
                var localFormat = Format(r, formatText, file);
                if (file is { Length: > 0 } && localFormat is { } lf) result = new LocalRuleSetOptions(tag ?? "", file, lf) { Files = errors.Files };
                break;
            case "remote":
                string? url = r.String("url");
                Uri? uri = null;
                if (string.IsNullOrEmpty(url)) errors.Add(r.PathOf("url"), "required for a remote rule set: an http:// or https:// URL");
                else if (!Uri.TryCreate(url, UriKind.Absolute, out uri) || uri.Scheme is not ("http" or "https"))
                    errors.Add(r.PathOf("url"), $"{JsonPath.Quote(url)} is not an http:// or https:// URL");
                var remoteFormat = Format(r, formatText, uri?.AbsolutePath);
                string? detour = r.String("download_detour");
                if (detour is { Length: 0 }) detour = null;
                if (detour is not null) config.ReferenceOutbound(detour, r.PathOf("download_detour"));
                var interval = r.Duration("update_interval") ?? RemoteRuleSetOptions.DefaultUpdateInterval;
                if (interval < MinUpdateInterval) errors.Add(r.PathOf("update_interval"), $"at least {MinUpdateInterval.TotalSeconds:0}s (a shorter interval would hammer the server)");
                if (uri is not null && remoteFormat is { } rf) result = new RemoteRuleSetOptions(tag ?? "", uri, rf, detour, interval);
                break;
            default:
                errors.Add(r.PathOf("type"), $"unknown rule-set type {JsonPath.Quote(type)} (expected \"inline\", \"local\" or \"remote\")");
                break;
        }
        r.Finish();
        return errors.Count > before ? null : result;
    }

    private static RuleSetFormat? Format(ObjectReader r, string? text, string? location)
    {
        if (RuleSetBody.TryParseName(text, out var named)) return named;
        switch (text)
        {
            case null:
                string ext = Path.GetExtension(location ?? "");
                if (ext.Equals(".json", StringComparison.OrdinalIgnoreCase)) return RuleSetFormat.Source;
                if (ext.Equals(".srs", StringComparison.OrdinalIgnoreCase)) return RuleSetFormat.Binary;
                if (ext.Equals(".mrs", StringComparison.OrdinalIgnoreCase)) return RuleSetFormat.Mrs;
                r.Errors.Add(r.PathOf("format"), "required: \"source\", \"binary\" or \"mrs\" (it cannot be told from the name unless it ends in .json, .srs or .mrs)");
                return null;
            default:
                r.Errors.Add(r.PathOf("format"), $"unknown format {JsonPath.Quote(text)} (expected \"source\", \"binary\", mihomo's \"mrs\", or a Clash rule provider's \"clash-domain\", \"clash-ipcidr\", \"clash-classical\")");
                return null;
        }
    }
}
