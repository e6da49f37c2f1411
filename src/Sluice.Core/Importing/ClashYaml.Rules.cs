using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Sluice.Core.Outbounds.WireGuard;
using YamlDotNet.RepresentationModel;

namespace Sluice.Core.Importing;

/// <summary>
/// A Clash config's <c>rules:</c> as route rules, in order: one line TYPE,VALUE,TARGET[,no-resolve] at a time;
/// AND/OR/NOT as logical rules; SUB-RULE,(CONDITION),NAME flattened into the <c>sub-rules:</c> list NAME, each of its
/// rules AND-ed with the condition (its MATCH is the condition alone), so the first match still decides; MATCH →
/// route.final. A line whose type, value or target Sluice cannot use is one note, never half-imported.
/// </summary>
public static partial class ClashYaml
{
    /// <summary>SUB-RULE lists may name other lists; deeper than this is refused (a loop would never end).</summary>
    private const int MaxSubRuleDepth = 8;

    private static List<JsonObject> ConvertRules(YamlMappingNode root, string source, Dictionary<string, string> known, RuleSetNames ruleSets,
        ref string? final, List<string> notes)
    {
        var rules = new List<JsonObject>();
        if (!root.Children.TryGetValue(new YamlScalarNode("rules"), out var node) || node is not YamlSequenceNode list) return rules;
        var subRules = root.Children.TryGetValue(new YamlScalarNode("sub-rules"), out var subNode) && subNode is YamlMappingNode subMap ? subMap : null;
        var context = new RuleContext(source, known, ruleSets, subRules, notes);
        foreach (var item in list.OfType<YamlScalarNode>())
        {
            string line = item.Value ?? "";
            context.Line(line, $"{source}: line {item.Start.Line}", null, 0, rules, ref final);
        }
        return rules;
    }

    private sealed record RuleContext(string Source, Dictionary<string, string> Known, RuleSetNames RuleSets, YamlMappingNode? SubRules, List<string> Notes)
    {
        /// <summary>
        /// Converts one rule line into <paramref name="rules"/>; <paramref name="condition"/> is the SUB-RULE condition
        /// it sits under (null at the top level), AND-ed with the line's own match.
        /// </summary>
        public void Line(string line, string where, JsonObject? condition, int depth, List<JsonObject> rules, ref string? final)
        {
            var parts = line.Split(',', StringSplitOptions.TrimEntries);
            string kind = parts[0].ToUpperInvariant();
            if (kind is "MATCH" or "FINAL")
            {
                var matchTarget = parts.Length >= 2 ? Target(parts[1]) : null;
                if (condition is not null && matchTarget is not null)
                    rules.Add(With(condition.DeepClone().AsObject(), matchTarget));
                else if (condition is null && (string?)matchTarget?["outbound"] is { } finalTag) final = finalTag;
                else Notes.Add($"{where}: \"{line}\" not carried over: its target is not an imported proxy or group{(condition is null ? " (final stays \"proxy\")" : "")}");
                return;
            }
            JsonObject? match;
            string targetName;
            if (kind is "AND" or "OR" or "NOT" or "SUB-RULE")
            {
                // KIND,((TYPE,VALUE),...),TARGET: the payload holds commas, so the target is after the last one.
                int lastComma = line.LastIndexOf(',');
                int firstComma = line.IndexOf(',');
                string payload = lastComma > firstComma ? line[(firstComma + 1)..lastComma].Trim() : "";
                targetName = line[(lastComma + 1)..].Trim();
                if (kind == "SUB-RULE")
                {
                    SubRule(line, where, payload, targetName, condition, depth, rules, ref final);
                    return;
                }
                match = payload.Length > 0 ? Logical(kind, payload, this) : null;
                if (match is null)
                {
                    Notes.Add($"{where}: \"{line}\" skipped: not {kind},((TYPE,VALUE),...),TARGET with rule types Sluice imports");
                    return;
                }
            }
            else
            {
                if (parts.Length < 3)
                {
                    Notes.Add($"{where}: \"{line}\" skipped: expected TYPE,VALUE,TARGET");
                    return;
                }
                targetName = parts[2];
                match = Match(kind, parts[1], this);
                if (match is null)
                {
                    Notes.Add(kind == "RULE-SET"
                        ? $"{where}: \"{line}\" skipped: \"{parts[1]}\" is not an imported rule provider"
                        : $"{where}: \"{line}\" skipped: rule type {kind} is not imported, or its value is not one Sluice can use");
                    return;
                }
            }
            if (Target(targetName) is not { } target)
            {
                Notes.Add($"{where}: \"{line}\" skipped: target \"{targetName}\" is not an imported proxy or group");
                return;
            }
            rules.Add(With(condition is null ? match : And(condition, match), target));
        }

        /// <summary>SUB-RULE,(CONDITION),NAME: every rule of the list NAME under the condition (AND-ed with any outer one).</summary>
        private void SubRule(string line, string where, string payload, string name, JsonObject? outer, int depth, List<JsonObject> rules, ref string? final)
        {
            var condition = payload.Length > 2 && payload[0] == '(' && payload[^1] == ')' ? Condition(payload[1..^1].Trim(), this) : null;
            if (condition is null)
            {
                Notes.Add($"{where}: \"{line}\" skipped: not SUB-RULE,(TYPE,VALUE),NAME with a rule type Sluice imports");
                return;
            }
            if (SubRules is null || !SubRules.Children.TryGetValue(new YamlScalarNode(name), out var listNode) || listNode is not YamlSequenceNode list)
            {
                Notes.Add($"{where}: \"{line}\" skipped: \"{name}\" is not a list under sub-rules");
                return;
            }
            if (depth >= MaxSubRuleDepth)
            {
                Notes.Add($"{where}: \"{line}\" skipped: sub-rules nested deeper than {MaxSubRuleDepth} (a loop?)");
                return;
            }
            var combined = outer is null ? condition : And(outer, condition);
            foreach (var item in list.OfType<YamlScalarNode>())
                Line(item.Value ?? "", $"{Source}: line {item.Start.Line}", combined, depth + 1, rules, ref final);
        }

        public JsonObject? Target(string name) => name.ToUpperInvariant() switch
        {
            "REJECT" or "REJECT-DROP" or "REJECT-TINYGIF" => new JsonObject { ["action"] = "reject" },
            "DIRECT" => new JsonObject { ["outbound"] = "direct" },
            _ => Known.TryGetValue(name, out var tag) ? new JsonObject { ["outbound"] = tag } : null,
        };

        private static JsonObject With(JsonObject match, JsonObject target)
        {
            foreach (var (key, value) in target) match[key] = value?.DeepClone();
            return match;
        }

        private static JsonObject And(JsonObject a, JsonObject b) =>
            new() { ["type"] = "logical", ["mode"] = "and", ["rules"] = new JsonArray(a.DeepClone(), b.DeepClone()) };
    }

    /// <summary>"TYPE,VALUE" or a logical "AND,((…),(…))" as one match without a target; null when Sluice cannot import it.</summary>
    private static JsonObject? Condition(string inner, RuleContext context)
    {
        int comma = inner.IndexOf(',');
        if (comma <= 0) return null;
        string kind = inner[..comma].Trim().ToUpperInvariant();
        string value = inner[(comma + 1)..].Trim();
        return kind is "AND" or "OR" or "NOT"
            ? Logical(kind, value, context)
            : Match(kind, value.Split(',', StringSplitOptions.TrimEntries)[0], context);
    }

    /// <summary>
    /// A Clash logical rule's payload, "((TYPE,VALUE),(TYPE,VALUE))" (members may be logical themselves), as a
    /// sing-box logical rule: AND/OR → mode and/or, NOT → "and" of its one member, inverted. Null when the payload
    /// is malformed or a member's type is not imported (the whole rule is then skipped, never half-matched).
    /// </summary>
    private static JsonObject? Logical(string kind, string payload, RuleContext context)
    {
        if (payload.Length < 2 || payload[0] != '(' || payload[^1] != ')') return null;
        var members = new JsonArray();
        foreach (string member in SplitTopLevel(payload[1..^1]))
        {
            if (member.Length < 2 || member[0] != '(' || member[^1] != ')') return null;
            if (Condition(member[1..^1].Trim(), context) is not { } rule) return null;
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
    private static JsonObject? Match(string kind, string value, RuleContext context)
    {
        var ruleSets = context.RuleSets;
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
            case "DOMAIN-WILDCARD":
                // mihomo's glob: '*' any run of characters (dots too), '?' one character; the whole name must match.
                return value.Length == 0 ? null
                    : new JsonObject { ["domain_regex"] = "^" + Regex.Escape(value.ToLowerInvariant()).Replace(@"\*", ".*", StringComparison.Ordinal).Replace(@"\?", ".", StringComparison.Ordinal) + "$" };
            case "IN-PORT":
                // The listener the import made on that port (mixed-port, port or socks-port); any other port has none.
                return int.TryParse(value, out int port) && ruleSets.InboundPorts.TryGetValue(port, out var inbound)
                    ? new JsonObject { ["inbound"] = new JsonArray((JsonNode)inbound) } : null;
            case "IN-TYPE" when value.Equals("TUN", StringComparison.OrdinalIgnoreCase):
                return new JsonObject { ["inbound"] = new JsonArray((JsonNode)"tun-in") };
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
