using System.Text.Json;
using System.Text.Json.Nodes;

namespace Sluice.Core.Configuration;

/// <summary>
/// What a reload from the running config to the next can do in place, from the two JSON texts:
/// 1. only route.rules, route.final, outbounds and endpoints may differ; any other change (inbounds, dns,
///    rule sets, the fwmark, …) needs a restart, and <see cref="RestartReason"/> names the first one;
/// 2. an outbound is unchanged when its object is the same and so is every outbound it names (members, detour);
/// 3. the DNS section and subscriptions must not name an outbound that changed (they hold on to it).
/// </summary>
public sealed record ConfigReloadPlan(string? RestartReason, IReadOnlySet<string> UnchangedOutbounds)
{
    private static readonly JsonDocumentOptions Document = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };
    private static readonly HashSet<string> InPlaceSections = new(["outbounds", "endpoints", "route"], StringComparer.Ordinal);
    private static readonly HashSet<string> InPlaceRouteFields = new(["rules", "final"], StringComparer.Ordinal);

    public static ConfigReloadPlan Compare(string runningJson, string nextJson)
    {
        var running = JsonNode.Parse(runningJson, documentOptions: Document) as JsonObject ?? [];
        var next = JsonNode.Parse(nextJson, documentOptions: Document) as JsonObject ?? [];
        var before = Outbounds(running);
        var after = Outbounds(next);
        var unchanged = new HashSet<string>(after.Keys.Where(tag => before.TryGetValue(tag, out var old) && JsonNode.DeepEquals(old, after[tag])), StringComparer.Ordinal);
        var allTags = new HashSet<string>(before.Keys.Concat(after.Keys), StringComparer.Ordinal);
        // An outbound naming a changed one (a group's member, a detour) changes with it.
        bool shrunk = true;
        while (shrunk)
        {
            shrunk = false;
            foreach (var tag in unchanged.ToArray())
            {
                if (!NamedTags(after[tag], allTags).Any(named => named != tag && !unchanged.Contains(named))) continue;
                unchanged.Remove(tag);
                shrunk = true;
            }
        }
        return new ConfigReloadPlan(FirstRestartReason(running, next, allTags, unchanged), unchanged);
    }

    private static string? FirstRestartReason(JsonObject running, JsonObject next, HashSet<string> allTags, HashSet<string> unchanged)
    {
        foreach (var section in running.Select(p => p.Key).Union(next.Select(p => p.Key)))
        {
            if (InPlaceSections.Contains(section) || JsonNode.DeepEquals(running[section], next[section])) continue;
            return $"\"{section}\" changed";
        }
        var routeBefore = running["route"] as JsonObject ?? [];
        var routeAfter = next["route"] as JsonObject ?? [];
        foreach (var field in routeBefore.Select(p => p.Key).Union(routeAfter.Select(p => p.Key)))
        {
            if (InPlaceRouteFields.Contains(field) || JsonNode.DeepEquals(routeBefore[field], routeAfter[field])) continue;
            return $"\"route.{field}\" changed";
        }
        foreach (var (section, node) in new[] { ("dns", next["dns"]), ("subscriptions", next["subscriptions"]), ("route.rule_set", routeAfter["rule_set"]) })
        {
            if (NamedTags(node, allTags).FirstOrDefault(tag => !unchanged.Contains(tag)) is { } changed)
                return $"\"{section}\" names outbound \"{changed}\", which changed";
        }
        return null;
    }

    private static Dictionary<string, JsonNode> Outbounds(JsonObject root)
    {
        var byTag = new Dictionary<string, JsonNode>(StringComparer.Ordinal);
        foreach (var section in new[] { "outbounds", "endpoints" })
        {
            if (root[section] is not JsonArray list) continue;
            foreach (var item in list)
                if (item is JsonObject entry && entry["tag"] is JsonValue tag && tag.TryGetValue(out string? name)) byTag[name] = entry;
        }
        return byTag;
    }

    /// <summary>Every string value under <paramref name="node"/> that is an outbound's tag.</summary>
    private static IEnumerable<string> NamedTags(JsonNode? node, HashSet<string> tags)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (_, child) in obj)
                    foreach (var tag in NamedTags(child, tags)) yield return tag;
                break;
            case JsonArray array:
                foreach (var child in array)
                    foreach (var tag in NamedTags(child, tags)) yield return tag;
                break;
            case JsonValue value when value.TryGetValue(out string? text) && tags.Contains(text):
                yield return text;
                break;
        }
    }
}
