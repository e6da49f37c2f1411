using System.Globalization;
using System.Text.Json.Nodes;
using YamlDotNet.RepresentationModel;

namespace Sluice.Core.Importing;

/// <summary>
/// A Clash config's <c>proxy-providers:</c> to Sluice subscriptions (docs/config.md#subscriptions), for the groups
/// that <c>use:</c> them. Only type http with an https:// url can be one (a subscription fetches a URL; plain http
/// could be rewritten on the way); interval (seconds) → interval. A group that uses providers and lists no proxies of
/// its own is fed by its first usable provider (a Sluice group takes one subscription): its members are the
/// provider's servers, kept current. What a subscription cannot honour (filter, exclude-filter, exclude-type,
/// override, header, proxy, health-check) is named in a note, as are providers of other types and groups that mix
/// <c>use:</c> with their own proxies (those keep their proxies).
/// </summary>
public static partial class ClashYaml
{
    private sealed record ProxyProvider(string Name, string Url, string? Interval);

    /// <summary>The providers a subscription can stand for, by name; every other one is noted here.</summary>
    private static Dictionary<string, ProxyProvider> ReadProxyProviders(YamlMappingNode root, string source, List<string> notes)
    {
        var usable = new Dictionary<string, ProxyProvider>(StringComparer.Ordinal);
        foreach (var (name, entry, where) in NamedEntries(root, "proxy-providers", source, notes, "a proxy provider that is not \"name: {type, url, ...}\""))
        {
            string type = Scalar(entry, "type") ?? "";
            string? url = Scalar(entry, "url");
            string? why = type switch
            {
                "http" when url is null => "it has no url",
                "http" when !Uri.TryCreate(url, UriKind.Absolute, out var parsed) || parsed.Scheme != Uri.UriSchemeHttps =>
                    $"its url \"{url}\" is not https:// (the list holds passwords and decides where traffic goes)",
                "http" => null,
                "file" => "type file: a subscription fetches a URL; paste the file's proxies into the config's proxies instead",
                "inline" => "type inline: move its payload into the config's proxies",
                _ => $"type \"{type}\" is not a provider Sluice knows",
            };
            if (why is not null)
            {
                notes.Add($"{where}: proxy provider \"{name}\" skipped: {why}; groups using it get none of its servers");
                continue;
            }
            string? interval = Scalar(entry, "interval") is { } text && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int seconds) && seconds > 0
                ? $"{seconds}s" : null;
            var unhonoured = new[] { "filter", "exclude-filter", "exclude-type", "override", "header", "proxy" }
                .Where(k => entry.Children.ContainsKey(new YamlScalarNode(k))).ToList();
            if (entry.Children.TryGetValue(new YamlScalarNode("health-check"), out var check) && check is YamlMappingNode checkMap && IsTrue(Scalar(checkMap, "enable")))
                unhonoured.Add("health-check (the group's own probes test its members)");
            if (unhonoured.Count > 0)
                notes.Add($"{where}: proxy provider \"{name}\": {string.Join(", ", unhonoured)} not carried over (a Sluice subscription takes every server of the list and fetches it directly)");
            usable[name] = new ProxyProvider(name, url!, interval);
        }
        return usable;
    }

    /// <summary>
    /// The subscription feeding <paramref name="group"/> when it uses providers and lists no proxies of its own;
    /// null otherwise (with a note when it uses providers). Tags stay plain names: a provider feeding several groups
    /// gets "NAME-2", "NAME-3", … for the later ones.
    /// </summary>
    private static JsonObject? FeedFromProviders(YamlMappingNode entry, string group, bool hasOwnProxies, string where,
        Dictionary<string, ProxyProvider> providers, List<JsonObject> subscriptions, List<string> notes)
    {
        if (!entry.Children.TryGetValue(new YamlScalarNode("use"), out var useNode)) return null;
        var used = useNode is YamlSequenceNode list ? list.OfType<YamlScalarNode>().Select(n => n.Value ?? "").ToList()
            : useNode is YamlScalarNode one ? [one.Value ?? ""] : [];
        if (hasOwnProxies)
        {
            notes.Add($"{where}: group \"{group}\": \"use\" ({string.Join(", ", used)}) not imported: a Sluice group is fed by a subscription or lists its members, not both; its listed proxies are");
            return null;
        }
        var feeding = used.Select(n => providers.GetValueOrDefault(n)).FirstOrDefault(p => p is not null);
        if (feeding is null)
        {
            notes.Add($"{where}: group \"{group}\": none of the providers it uses ({string.Join(", ", used)}) could be imported");
            return null;
        }
        if (used.Count > 1)
            notes.Add($"{where}: group \"{group}\" uses {used.Count} providers; a Sluice group is fed by one: \"{feeding.Name}\" (the others' servers are not in it)");
        var filters = new[] { "filter", "exclude-filter", "exclude-type" }.Where(k => entry.Children.ContainsKey(new YamlScalarNode(k))).ToList();
        if (filters.Count > 0)
            notes.Add($"{where}: group \"{group}\": {string.Join(", ", filters)} not applied to the provider's servers: the group gets every server of the list");
        string baseTag = Plain(feeding.Name);
        string tag = baseTag;
        for (int n = 2; subscriptions.Any(s => (string?)s["tag"] == tag); n++) tag = $"{baseTag}-{n}";
        var subscription = new JsonObject { ["tag"] = tag, ["url"] = feeding.Url, ["group"] = group };
        if (feeding.Interval is { } interval) subscription["interval"] = interval;
        subscriptions.Add(subscription);
        return subscription;

        static string Plain(string name) => name is "." or ".." ? "provider" : name.Replace('/', '_').Replace('\\', '_').Replace('\0', '_');
    }
}
