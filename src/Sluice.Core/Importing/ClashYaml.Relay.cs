using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
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

    /// <summary>The imported proxies include-all adds to a group (filtered as mihomo filters them); null without include-all.</summary>
    private static List<string>? IncludedProxies(YamlMappingNode entry, string name, string where, IReadOnlyList<JsonObject> proxies, List<string> notes)
    {
        if (!IsTrue(Scalar(entry, "include-all")) && !IsTrue(Scalar(entry, "include-all-proxies"))) return null;
        try
        {
            // mihomo splits filter and exclude-filter at '`' into several expressions: one matching is enough.
            var keep = Patterns(Scalar(entry, "filter"));
            var drop = Patterns(Scalar(entry, "exclude-filter"));
            var dropTypes = (Scalar(entry, "exclude-type") ?? "").Split('|', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(t => t.ToLowerInvariant()).ToHashSet();
            return proxies.Select(p => (Tag: (string)p["tag"]!, Type: ClashTypeName((string)p["type"]!)))
                .Where(p => (keep.Count == 0 || keep.Any(r => r.IsMatch(p.Tag))) && !drop.Any(r => r.IsMatch(p.Tag)) && !dropTypes.Contains(p.Type))
                .Select(p => p.Tag).ToList();
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException)
        {
            notes.Add($"{where}: group \"{name}\": include-all not carried over: its filter is not a regular expression Sluice reads ({e.Message}); its listed proxies are");
            return null;
        }

        static List<Regex> Patterns(string? text) => (text ?? "").Split('`', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => new Regex(p, RegexOptions.NonBacktracking | RegexOptions.CultureInvariant)).ToList();
    }

    /// <summary>The Clash type name an exclude-type lists (ss, socks5, http, vless, trojan, wireguard), from the sing-box type.</summary>
    private static string ClashTypeName(string singBoxType) => singBoxType switch
    {
        "shadowsocks" => "ss",
        "socks" => "socks5",
        _ => singBoxType,
    };
}
