using Sluice.Core.Configuration;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Sluice.Core.Outbounds.WireGuard;
using YamlDotNet.RepresentationModel;

namespace Sluice.Core.Importing;

/// <summary>
/// A whole Clash/mihomo config to a Sluice config, for `sluice import config.yaml`: besides the proxies,
/// 1. proxy-groups: select → selector, url-test → urltest, fallback → fallback (url, interval, tolerance kept),
///    load-balance → urltest (noted); members DIRECT → direct, REJECT → block; a member that was not imported is
///    left out (noted), and a group left empty is dropped (noted);
/// 2. rules: DOMAIN, DOMAIN-SUFFIX, DOMAIN-KEYWORD, DOMAIN-REGEX, IP-CIDR(6), SRC-IP-CIDR, DST-PORT, SRC-PORT,
///    PROCESS-NAME, PROCESS-PATH, NETWORK, GEOIP (LAN → ip_is_private), GEOSITE (both as SagerNet's remote rule
///    sets), RULE-SET (its rule provider as a rule set: ClashYaml.RuleProviders.cs), AND/OR/NOT in order;
///    target DIRECT → direct, REJECT → the reject action; MATCH → route.final;
/// 3. sniffer.enable: true → a sniff action before the rules;
/// 4. mixed-port (else port / socks-port) → a mixed inbound on 127.0.0.1 beside the TUN;
/// 5. dns (enable: true), hosts and tun.dns-hijack → the dns section and hijack-dns rules (ClashYaml.Dns.cs).
/// Nothing is dropped silently: every rule, group or member not carried over is one note naming its line.
/// </summary>
public static partial class ClashYaml
{
    public sealed record ConfigResult(string Json, IReadOnlyList<string> Notes);

    public static ConfigResult ParseConfig(string text, string source)
    {
        var root = LoadRoot(text, source);
        var proxies = ParseProxies(root, source, withGroups: true);
        var notes = new List<string>(proxies.Notes);
        var known = new Dictionary<string, string>(StringComparer.Ordinal) { ["DIRECT"] = "direct", ["REJECT"] = "block", ["REJECT-DROP"] = "block" };
        foreach (var o in proxies.Outbounds) known.TryAdd((string)o["tag"]!, (string)o["tag"]!);

        var groups = ConvertGroups(root, source, known, notes);
        var outbounds = new JsonArray(new JsonObject { ["type"] = "direct", ["tag"] = "direct" });
        var endpoints = new JsonArray();
        foreach (var o in proxies.Outbounds) (SubscriptionBody.IsEndpoint(o) ? endpoints : outbounds).Add(o.DeepClone());
        // The group of every imported proxy, as for a plain subscription, unless the config has its own "proxy".
        if (!known.ContainsKey("proxy"))
        {
            outbounds.Add((JsonNode)new JsonObject
            {
                ["type"] = "selector", ["tag"] = "proxy", ["outbounds"] = new JsonArray(proxies.Outbounds.Select(o => (JsonNode)JsonValue.Create((string)o["tag"]!)).ToArray()),
            });
        }
        foreach (var g in groups) outbounds.Add((JsonNode)g);

        var ruleSets = ConvertRuleProviders(root, source, known, notes);
        string? final = null;
        var rules = ConvertRules(root, source, known, ruleSets, ref final, notes);
        var dns = ConvertDns(root, source, known, ruleSets, notes);
        if (dns is not null) rules.InsertRange(0, dns.HijackRules);
        // mihomo's sniffer (off unless enabled) reads the domain from TLS/HTTP for the domain rules: a sniff rule first.
        if (root.Children.TryGetValue(new YamlScalarNode("sniffer"), out var sniffer) && sniffer is YamlMappingNode snifferMap && IsTrue(Scalar(snifferMap, "enable")))
            rules.Insert(0, new JsonObject { ["action"] = "sniff" });
        if (rules.Any(r => (string?)r["outbound"] == "block") || groups.Any(g => g["outbounds"]!.AsArray().Any(m => (string?)m == "block")))
            outbounds.Add((JsonNode)new JsonObject { ["type"] = "block", ["tag"] = "block" });

        var route = new JsonObject { ["rules"] = new JsonArray(rules.ToArray<JsonNode>()), ["final"] = final ?? "proxy" };
        var usedSets = new JsonArray(ruleSets.Providers.Where(p => ruleSets.Used.Contains(p.Key)).Select(p => (JsonNode)p.Value).ToArray());
        foreach (string tag in ruleSets.Geo.Where(t => !ruleSets.Providers.ContainsKey(t)))
        {
            usedSets.Add((JsonNode)GeoRuleSet(tag));
        }
        if (usedSets.Count > 0) route["rule_set"] = usedSets;
        // mihomo's interface-name / routing-mark: the device and the mark of its own outgoing sockets, which is what
        // route.default_interface and route.default_mark are (mark 0 is mihomo's "none").
        if (dns?.DefaultResolver is { } resolver) route["default_domain_resolver"] = resolver;
        if (Scalar(root, "interface-name") is { Length: > 0 } device) route["default_interface"] = device;
        if (Scalar(root, "routing-mark") is { } markText && uint.TryParse(markText, NumberStyles.None, CultureInfo.InvariantCulture, out uint mark) && mark != 0)
            route["default_mark"] = mark;
        var inbounds = new JsonArray(new JsonObject
        {
            ["type"] = "tun", ["tag"] = "tun-in", ["address"] = new JsonArray("172.19.0.1/30", "fdfe:dcba:9876::1/126"), ["auto_route"] = true,
        });
        foreach (string key in new[] { "mixed-port", "port", "socks-port" })
        {
            if (Scalar(root, key) is not { } portText || !int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535) continue;
            string type = key == "port" ? "http" : key == "socks-port" ? "socks" : "mixed";
            inbounds.Add((JsonNode)new JsonObject { ["type"] = type, ["tag"] = $"{type}-in", ["listen"] = "127.0.0.1", ["listen_port"] = port });
            if (IsTrue(Scalar(root, "allow-lan"))) notes.Add($"{source}: allow-lan: true not carried over: the {key} inbound listens on 127.0.0.1 (set \"listen\" and \"users\" to offer it to the network)");
            break;
        }
        var config = new JsonObject
        {
            ["log"] = new JsonObject { ["level"] = "info" },
            ["inbounds"] = inbounds,
            ["outbounds"] = outbounds,
            ["route"] = route,
        };
        if (endpoints.Count > 0) config["endpoints"] = endpoints;
        if (dns is not null) config["dns"] = dns.Dns;
        return new ConfigResult(config.ToJsonString(ConfigJson.Readable) + "\n", notes);
    }

    private static List<JsonObject> ConvertGroups(YamlMappingNode root, string source, Dictionary<string, string> known, List<string> notes)
    {
        var groups = new List<(JsonObject Group, YamlNode Node, List<(string Name, long Line)> Members)>();
        if (!root.Children.TryGetValue(new YamlScalarNode("proxy-groups"), out var node) || node is not YamlSequenceNode list) return [];
        foreach (var item in list)
        {
            string where = $"{source}: line {item.Start.Line}";
            if (item is not YamlMappingNode entry || Scalar(entry, "name") is not { } name)
            {
                notes.Add($"{where}: a proxy group without a name skipped");
                continue;
            }
            string clashType = Scalar(entry, "type") ?? "";
            string? type = clashType switch { "select" => "selector", "url-test" or "load-balance" => "urltest", "fallback" => "fallback", _ => null };
            if (type is null)
            {
                notes.Add($"{where}: group \"{name}\" skipped: type \"{clashType}\" is not imported (select, url-test, fallback, load-balance)");
                continue;
            }
            if (clashType == "load-balance") notes.Add($"{where}: group \"{name}\" is load-balance, imported as url-test (Sluice has no load balancing)");
            foreach (string key in new[] { "use", "filter", "include-all", "include-all-proxies" })
                if (entry.Children.ContainsKey(new YamlScalarNode(key))) notes.Add($"{where}: group \"{name}\": \"{key}\" (proxy providers, filters) not imported; its listed proxies are");
            var group = new JsonObject { ["type"] = type, ["tag"] = name };
            if (type != "selector")
            {
                if (Scalar(entry, "url") is { Length: > 0 } url) group["url"] = url;
                if (Scalar(entry, "interval") is { } interval && int.TryParse(interval, NumberStyles.None, CultureInfo.InvariantCulture, out int seconds) && seconds > 0)
                    group["interval"] = $"{seconds}s";
                if (type == "urltest" && Scalar(entry, "tolerance") is { } tolerance && int.TryParse(tolerance, NumberStyles.None, CultureInfo.InvariantCulture, out int ms))
                    group["tolerance"] = Math.Min(ms, 60_000);
            }
            var members = new List<(string, long)>();
            if (entry.Children.TryGetValue(new YamlScalarNode("proxies"), out var m) && m is YamlSequenceNode memberList)
                foreach (var member in memberList.OfType<YamlScalarNode>())
                    if (member.Value is { } value) members.Add((value, member.Start.Line));
            known[name] = name; // groups may name groups listed after them
            groups.Add((group, entry, members));
        }
        // Members resolved once every group is known; a group left empty is dropped, and so are members naming it.
        var result = new List<JsonObject>();
        bool dropped = true;
        while (dropped)
        {
            dropped = false;
            foreach (var (group, entry, members) in groups)
            {
                if (!known.ContainsKey((string)group["tag"]!)) continue;
                var names = new JsonArray();
                foreach (var (member, line) in members)
                {
                    if (member == "PASS" || !known.TryGetValue(member, out var tag)) continue;
                    if (!names.Any(n => (string?)n == tag)) names.Add((JsonNode)tag);
                }
                if (names.Count > 0) continue;
                known.Remove((string)group["tag"]!);
                notes.Add($"{source}: line {entry.Start.Line}: group \"{group["tag"]}\" skipped: none of its members was imported");
                dropped = true;
            }
        }
        foreach (var (group, entry, members) in groups)
        {
            string tag = (string)group["tag"]!;
            if (!known.ContainsKey(tag)) continue;
            var names = new JsonArray();
            foreach (var (member, line) in members)
            {
                if (member != "PASS" && known.TryGetValue(member, out var target))
                {
                    if (!names.Any(n => (string?)n == target)) names.Add((JsonNode)target);
                }
                else
                {
                    notes.Add($"{source}: line {line}: group \"{tag}\": member \"{member}\" left out (not imported)");
                }
            }
            group["outbounds"] = names;
            result.Add(group);
        }
        return result;
    }

    private static List<JsonObject> ConvertRules(YamlMappingNode root, string source, Dictionary<string, string> known, RuleSetNames ruleSets,
        ref string? final, List<string> notes)
    {
        var rules = new List<JsonObject>();
        if (!root.Children.TryGetValue(new YamlScalarNode("rules"), out var node) || node is not YamlSequenceNode list) return rules;
        foreach (var item in list.OfType<YamlScalarNode>())
        {
            string line = item.Value ?? "";
            string where = $"{source}: line {item.Start.Line}";
            var parts = line.Split(',', StringSplitOptions.TrimEntries);
            string kind = parts[0].ToUpperInvariant();
            if (kind == "MATCH" || kind == "FINAL")
            {
                if (parts.Length >= 2 && Target(parts[1]) is { } matchTarget && (string?)matchTarget["outbound"] is { } finalTag) final = finalTag;
                else notes.Add($"{where}: \"{line}\" not carried over: its target is not an imported proxy or group (final stays \"proxy\")");
                continue;
            }
            if (kind is "AND" or "OR" or "NOT")
            {
                // AND,((TYPE,VALUE),(TYPE,VALUE)),TARGET: the payload holds commas, so the target is after the last one.
                int lastComma = line.LastIndexOf(',');
                int firstComma = line.IndexOf(',');
                var logical = lastComma > firstComma ? Logical(kind, line[(firstComma + 1)..lastComma].Trim(), ruleSets) : null;
                if (logical is null)
                {
                    notes.Add($"{where}: \"{line}\" skipped: not {kind},((TYPE,VALUE),...),TARGET with rule types Sluice imports");
                    continue;
                }
                if (Target(line[(lastComma + 1)..].Trim()) is not { } logicalTarget)
                {
                    notes.Add($"{where}: \"{line}\" skipped: target \"{line[(lastComma + 1)..].Trim()}\" is not an imported proxy or group");
                    continue;
                }
                foreach (var (key, value) in logicalTarget) logical[key] = value?.DeepClone();
                rules.Add(logical);
                continue;
            }
            if (parts.Length < 3)
            {
                notes.Add($"{where}: \"{line}\" skipped: expected TYPE,VALUE,TARGET");
                continue;
            }
            var rule = Match(kind, parts[1], ruleSets);
            if (rule is null)
            {
                notes.Add(kind == "RULE-SET"
                    ? $"{where}: \"{line}\" skipped: \"{parts[1]}\" is not an imported rule provider"
                    : $"{where}: \"{line}\" skipped: rule type {kind} is not imported, or its value is not one Sluice can use");
                continue;
            }
            if (Target(parts[2]) is not { } target)
            {
                notes.Add($"{where}: \"{line}\" skipped: target \"{parts[2]}\" is not an imported proxy or group");
                continue;
            }
            foreach (var (key, value) in target) rule[key] = value?.DeepClone();
            rules.Add(rule);
        }
        return rules;

        JsonObject? Target(string name) => name.ToUpperInvariant() switch
        {
            "REJECT" or "REJECT-DROP" or "REJECT-TINYGIF" => new JsonObject { ["action"] = "reject" },
            "DIRECT" => new JsonObject { ["outbound"] = "direct" },
            _ => known.TryGetValue(name, out var tag) ? new JsonObject { ["outbound"] = tag } : null,
        };
    }

    /// <summary>
    /// A Clash logical rule's payload, "((TYPE,VALUE),(TYPE,VALUE))" (members may be logical themselves), as a
    /// sing-box logical rule: AND/OR → mode and/or, NOT → "and" of its one member, inverted. Null when the payload
    /// is malformed or a member's type is not imported (the whole rule is then skipped, never half-matched).
    /// </summary>
    private static JsonObject? Logical(string kind, string payload, RuleSetNames ruleSets)
    {
        if (payload.Length < 2 || payload[0] != '(' || payload[^1] != ')') return null;
        var members = new JsonArray();
        foreach (string member in SplitTopLevel(payload[1..^1]))
        {
            if (member.Length < 2 || member[0] != '(' || member[^1] != ')') return null;
            string inner = member[1..^1].Trim();
            int comma = inner.IndexOf(',');
            if (comma <= 0) return null;
            string memberKind = inner[..comma].Trim().ToUpperInvariant();
            string value = inner[(comma + 1)..].Trim();
            var rule = memberKind is "AND" or "OR" or "NOT"
                ? Logical(memberKind, value, ruleSets)
                : Match(memberKind, value.Split(',', StringSplitOptions.TrimEntries)[0], ruleSets);
            if (rule is null) return null;
            members.Add((JsonNode)rule);
        }
        if (members.Count == 0 || (kind == "NOT" && members.Count != 1)) return null;
        var logical = new JsonObject { ["type"] = "logical", ["mode"] = kind == "OR" ? "or" : "and", ["rules"] = members };
        if (kind == "NOT") logical["invert"] = true;
        return logical;
    }

    /// <summary>"(a,b),(c,(d,e))" split at the commas outside parentheses.</summary>
    private static List<string> SplitTopLevel(string text)
    {
        var parts = new List<string>();
        int depth = 0, start = 0;
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] == '(') depth++;
            else if (text[i] == ')') depth--;
            else if (text[i] == ',' && depth == 0)
            {
                parts.Add(text[start..i].Trim());
                start = i + 1;
            }
        }
        parts.Add(text[start..].Trim());
        return parts;
    }

    /// <summary>The sing-box match of one Clash rule, or null for a type Sluice does not import or a value it cannot use.</summary>
    private static JsonObject? Match(string kind, string value, RuleSetNames ruleSets)
    {
        switch (kind)
        {
            case "GEOIP" when value.Equals("LAN", StringComparison.OrdinalIgnoreCase):
                return new JsonObject { ["ip_is_private"] = true };
            case "GEOIP" or "GEOSITE":
            {
                string tag = $"{kind.ToLowerInvariant()}-{value.ToLowerInvariant()}";
                ruleSets.Geo.Add(tag);
                return new JsonObject { ["rule_set"] = new JsonArray((JsonNode)tag) };
            }
            case "RULE-SET":
                if (!ruleSets.Providers.ContainsKey(value)) return null;
                ruleSets.Used.Add(value);
                return new JsonObject { ["rule_set"] = new JsonArray((JsonNode)value) };
        }
        var lines = new RuleSets.ClashRuleLines();
        try
        {
            if (lines.Add(kind, value) != RuleSets.ClashRuleLines.Outcome.Added) return null;
        }
        catch (RuleSets.RuleSetFormatException)
        {
            return null;
        }
        return JsonNode.Parse(RuleSets.SourceRuleSetWriter.WriteRule(lines.Rules().Single()))!.AsObject();
    }
}
