using System.Globalization;
using System.Text.Json.Nodes;
using Sluice.Core.RuleSets;
using YamlDotNet.RepresentationModel;

namespace Sluice.Core.Importing;

/// <summary>
/// A Clash config's <c>rule-providers:</c> to route.rule_set entries, for <c>RULE-SET,name,TARGET</c> rules:
/// type http → a remote set in the "clash-BEHAVIOR" format, or "mrs" for format mrs (interval → update_interval, proxy →
/// download_detour), type file → a local set (a relative path is taken from the config's folder), type inline → an
/// inline set converted now. Providers without a usable behavior or format (mrs with behavior classical, which mihomo
/// does not write) are left out, noted by line, and so are the rules naming them.
/// </summary>
public static partial class ClashYaml
{
    /// <summary>What route rules may name: the providers imported (by name), the geo sets the rules ask for, the listeners.</summary>
    private sealed class RuleSetNames
    {
        public Dictionary<string, JsonObject> Providers { get; } = new(StringComparer.Ordinal);
        public SortedSet<string> Geo { get; } = new(StringComparer.Ordinal);
        public HashSet<string> Used { get; } = new(StringComparer.Ordinal);

        /// <summary>The listeners the import makes, by port: what an IN-PORT rule names.</summary>
        public Dictionary<int, string> InboundPorts { get; } = [];
    }

    /// <summary>A GEOIP/GEOSITE rule's set: SagerNet's published binary list of that name.</summary>
    private static JsonObject GeoRuleSet(string tag)
    {
        string kind = tag.StartsWith("geoip-", StringComparison.Ordinal) ? "geoip" : "geosite";
        return new JsonObject
        {
            ["type"] = "remote", ["tag"] = tag, ["format"] = "binary",
            ["url"] = $"https://raw.githubusercontent.com/SagerNet/sing-{kind}/rule-set/{tag}.srs",
        };
    }

    private static RuleSetNames ConvertRuleProviders(YamlMappingNode root, string source, Dictionary<string, string> known, List<string> notes)
    {
        var names = new RuleSetNames();
        foreach (var (name, entry, where) in NamedEntries(root, "rule-providers", source, notes, "a rule provider that is not \"name: {type, behavior, ...}\""))
        {
            if (ConvertProvider(name, entry, source, known, out string? why, out string? skipped) is { } set) names.Providers[name] = set;
            else notes.Add($"{where}: rule provider \"{name}\" skipped: {why}; rules naming it are left out");
            if (skipped is not null) notes.Add($"{where}: rule provider \"{name}\": {skipped}");
        }
        return names;
    }

    /// <summary>The "name: {…}" entries of a top-level mapping (rule-providers, proxy-providers); any other entry is noted and skipped.</summary>
    private static IEnumerable<(string Name, YamlMappingNode Entry, string Where)> NamedEntries(YamlMappingNode root, string section, string source,
        List<string> notes, string notAnEntry)
    {
        if (!root.Children.TryGetValue(new YamlScalarNode(section), out var node) || node is not YamlMappingNode entries) yield break;
        foreach (var (key, value) in entries.Children)
        {
            string where = $"{source}: line {key.Start.Line}";
            if (key is YamlScalarNode { Value: { Length: > 0 } name } && value is YamlMappingNode entry) yield return (name, entry, where);
            else notes.Add($"{where}: {notAnEntry} skipped");
        }
    }

    private static JsonObject? ConvertProvider(string name, YamlMappingNode entry, string source, Dictionary<string, string> known, out string? why, out string? skipped)
    {
        (why, skipped) = (null, null);
        string type = Scalar(entry, "type") ?? "";
        string format = (Scalar(entry, "format") ?? "yaml").ToLowerInvariant();
        if (!ClashRuleProvider.TryParseBehavior(Scalar(entry, "behavior"), out var behavior))
        {
            why = $"behavior \"{Scalar(entry, "behavior")}\" is not domain, ipcidr or classical";
            return null;
        }
        if (format == "mrs" && behavior == ClashBehavior.Classical)
        {
            why = "format mrs with behavior classical: mihomo writes .mrs only for behaviors domain and ipcidr";
            return null;
        }
        if (format is not ("yaml" or "text" or "mrs"))
        {
            why = $"format \"{format}\" is not yaml, text or mrs";
            return null;
        }
        // An .mrs file says its behavior itself; the text formats are read by the behavior the provider names.
        string sluiceFormat = format == "mrs" ? "mrs" : "clash-" + ClashRuleProvider.Name(behavior);
        switch (type)
        {
            case "http":
                if (Scalar(entry, "url") is not { } url || !Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                {
                    why = "an http provider needs an http:// or https:// \"url\"";
                    return null;
                }
                var remote = new JsonObject { ["type"] = "remote", ["tag"] = name, ["format"] = sluiceFormat, ["url"] = url };
                // mihomo's interval is seconds, 0 = never; Sluice refreshes at least every 10 s and by default daily.
                if (Scalar(entry, "interval") is { } interval && long.TryParse(interval, NumberStyles.None, CultureInfo.InvariantCulture, out long seconds) && seconds > 0)
                    remote["update_interval"] = $"{Math.Max(seconds, (long)Configuration.RuleSetSection.MinUpdateInterval.TotalSeconds)}s";
                if (Scalar(entry, "proxy") is { Length: > 0 } proxy)
                {
                    if (proxy.Equals("DIRECT", StringComparison.OrdinalIgnoreCase)) remote["download_detour"] = "direct";
                    else if (known.TryGetValue(proxy, out var tag) && tag != "block") remote["download_detour"] = tag;
                    // else: a proxy not imported; the download goes the way route.final does.
                }
                return remote;
            case "file":
                if (Scalar(entry, "path") is not { Length: > 0 } path)
                {
                    why = "a file provider needs a \"path\"";
                    return null;
                }
                if (!Path.IsPathRooted(path))
                {
                    if (source.Contains("://", StringComparison.Ordinal) || Path.GetDirectoryName(Path.GetFullPath(source)) is not { } folder)
                    {
                        why = $"its path \"{path}\" is relative to a config that is not a local file";
                        return null;
                    }
                    path = Path.GetFullPath(Path.Combine(folder, path));
                }
                return new JsonObject { ["type"] = "local", ["tag"] = name, ["format"] = sluiceFormat, ["path"] = path };
            case "inline":
                if (!entry.Children.TryGetValue(new YamlScalarNode("payload"), out var payload) || payload is not YamlSequenceNode list)
                {
                    why = "an inline provider needs a \"payload:\" list";
                    return null;
                }
                RuleSetContent content;
                try
                {
                    content = ClashRuleProvider.Convert(
                        list.OfType<YamlScalarNode>().Where(s => !string.IsNullOrWhiteSpace(s.Value)).Select(s => (s.Value!.Trim(), s.Start.Line)), behavior);
                }
                catch (RuleSetFormatException e)
                {
                    why = e.Message;
                    return null;
                }
                skipped = content.Skipped;
                var rules = new JsonArray(content.Rules.Select(r => JsonNode.Parse(SourceRuleSetWriter.WriteRule(r))).ToArray());
                return new JsonObject { ["type"] = "inline", ["tag"] = name, ["rules"] = rules };
            default:
                why = $"type \"{type}\" is not http, file or inline";
                return null;
        }
    }
}
