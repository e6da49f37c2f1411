using System.Text.Json.Nodes;
using YamlDotNet.RepresentationModel;

namespace Sluice.Core.Importing;

/// <summary>
/// Proxy groups that are not a choice among members:
/// 1. <c>type: relay</c> [a, b, c] — the connection goes to a, through it to b, through both to c — as copies of b
///    and c chained by <c>detour</c> (c's copy takes the group's name; a may be a proxy or a group, the later hops must
///    be proxies, as each needs a server to be dialed through the one before);
/// 2. <c>include-all</c> / <c>include-all-proxies</c> with <c>filter</c>, <c>exclude-filter</c>, <c>exclude-type</c>:
///    every imported proxy whose name passes, after the listed ones.
/// </summary>
public static partial class ClashYaml
{
    private static List<JsonObject> ConvertRelays(List<(string Name, YamlMappingNode Entry, string Where)> relays, Dictionary<string, string> known,
        IReadOnlyList<JsonObject> proxies, List<string> notes)
    {
        var chains = new List<JsonObject>();
        foreach (var (name, entry, where) in relays)
        {
            var hops = entry.Children.TryGetValue(new YamlScalarNode("proxies"), out var m) && m is YamlSequenceNode list
                ? list.OfType<YamlScalarNode>().Select(s => s.Value ?? "").Where(v => !v.Equals("DIRECT", StringComparison.OrdinalIgnoreCase)).ToList()
                : [];
            if (RelayChain(name, hops, known, proxies, out string? why) is { } chain) chains.AddRange(chain);
            else
            {
                known.Remove(name);
                notes.Add($"{where}: relay group \"{name}\" skipped: {why}");
            }
        }
        return chains;
    }

    private static List<JsonObject>? RelayChain(string name, List<string> hops, Dictionary<string, string> known, IReadOnlyList<JsonObject> proxies, out string? why)
    {
        why = null;
        if (hops.Count < 2)
        {
            why = "a relay needs at least two hops (besides DIRECT)";
            return null;
        }
        if (!known.TryGetValue(hops[0], out var previous) || previous == name)
        {
            why = $"its first hop \"{hops[0]}\" is not an imported proxy or group";
            return null;
        }
        var chain = new List<JsonObject>();
        for (int i = 1; i < hops.Count; i++)
        {
            var proxy = known.TryGetValue(hops[i], out var tag) ? proxies.FirstOrDefault(p => (string?)p["tag"] == tag) : null;
            if (proxy is null || SubscriptionBody.IsEndpoint(proxy))
            {
                why = $"hop \"{hops[i]}\" is not an imported proxy (every hop after the first must be a server to dial through the one before)";
                return null;
            }
            if (proxy["detour"] is not null)
            {
                why = $"hop \"{hops[i]}\" has its own dialer-proxy, which the relay would replace";
                return null;
            }
            var copy = proxy.DeepClone().AsObject();
            copy["tag"] = i == hops.Count - 1 ? name : $"{name} ({hops[i]})";
            copy["detour"] = previous;
            chain.Add(copy);
            previous = (string)copy["tag"]!;
        }
        return chain;
    }

    /// <summary>
    /// The imported proxies include-all adds to a group, as mihomo adds them: in name order, those one of the filter's
    /// expressions matches (all without one); its exclude-filter and exclude-type apply to every member (ConvertGroups).
    /// Null without include-all.
    /// </summary>
    private static List<string>? IncludedProxies(YamlMappingNode entry, string name, string where, IReadOnlyList<JsonObject> proxies, List<string> notes)
    {
        if (!IsTrue(Scalar(entry, "include-all")) && !IsTrue(Scalar(entry, "include-all-proxies"))) return null;
        if (!NameFilter.TryRead(entry, out var filter, out string? why))
        {
            notes.Add($"{where}: group \"{name}\": include-all not carried over: {why}; its listed proxies are");
            return null;
        }
        var keep = filter.Compile();
        return proxies.Select(p => (string)p["tag"]!).Where(keep.Keeps).Order(StringComparer.Ordinal).ToList();
    }
}
