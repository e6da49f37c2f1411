using System.Globalization;
using System.Text.Json.Nodes;
using Sluice.Core.Outbounds.WireGuard;
using Sluice.Core.Subscriptions;
using YamlDotNet.RepresentationModel;

namespace Sluice.Core.Importing;

/// <summary>
/// A Clash config's <c>proxy-providers:</c>, for the groups that <c>use:</c> them (or take them all with
/// <c>include-all-providers</c> / <c>include-all</c>, in name order as mihomo sorts them). A group's members are what
/// mihomo gives it: its own proxies, then each provider's servers in the order it names them.
/// 1. type http with an https:// url → a Sluice subscription (docs/config.md#subscriptions) feeding the group, one per
///    group and provider, tagged NAME, NAME-2, …; interval (seconds) → interval (plain http could be rewritten on the way);
/// 2. type file (path relative to the profile's folder, read once at import, never written) and type inline (payload:) →
///    their servers become outbounds of the config and members of the group, read now: a file is not watched;
/// 3. the provider's filter / exclude-filter / exclude-type and the group's, both applied as mihomo applies them: a
///    server must pass both (see <see cref="NameFilter"/>).
/// 4. header, override and dialer-proxy → the subscription's headers and override (<see cref="ReadProviderExtras"/>).
/// What cannot be honoured (proxy, health-check, the override fields Sluice has no counterpart for) is named in a note, as
/// is every provider that cannot be imported.
/// </summary>
public static partial class ClashYaml
{
    /// <param name="Servers">type file/inline: the servers, read at import and passed through the provider's own filter.</param>
    /// <param name="Extras">Its header and override (<see cref="ReadProviderExtras"/>).</param>
    private sealed record ProxyProvider(string Name, string? Url, string? Interval, NameFilter Filter, IReadOnlyList<JsonObject>? Servers, ProviderExtras Extras);

    /// <summary>
    /// The providers that can be imported, by name; every other one is noted here. <paramref name="taken"/> holds the tags
    /// in use (proxies, group names); a file or inline provider's server whose name is taken becomes "NAME-2", ….
    /// </summary>
    private static Dictionary<string, ProxyProvider> ReadProxyProviders(YamlMappingNode root, string source, HashSet<string> taken, List<string> notes)
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
                "http" or "file" or "inline" => null,
                _ => $"type \"{type}\" is not a provider Sluice knows (http, file, inline)",
            };
            NameFilter filter = NameFilter.None;
            IReadOnlyList<JsonObject>? servers = null;
            var unhonoured = new List<string>();
            var extras = ReadProviderExtras(entry, taken, unhonoured);
            if (why is null && !NameFilter.TryRead(entry, out filter, out why))
                why = $"{why} (Sluice must not widen what the provider gives)";
            if (why is null && type != "http") servers = ReadProviderServers(name, entry, type, source, filter, extras.Override, taken, notes, out why);
            if (why is not null)
            {
                notes.Add($"{where}: proxy provider \"{name}\" skipped: {why}; groups using it get none of its servers");
                continue;
            }
            string? interval = Scalar(entry, "interval") is { } text && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int seconds) && seconds > 0
                ? $"{seconds}s" : null;
            if (entry.Children.ContainsKey(new YamlScalarNode("proxy"))) unhonoured.Add("proxy (Sluice fetches the list directly)");
            if (type == "http" && extras.Override.Renames && (filter.Keep.Count > 0 || filter.Drop.Count > 0))
                notes.Add($"{where}: proxy provider \"{name}\": its filter now sees the names after its override (mihomo filters before renaming)");
            if (entry.Children.TryGetValue(new YamlScalarNode("health-check"), out var check) && check is YamlMappingNode checkMap && IsTrue(Scalar(checkMap, "enable")))
                unhonoured.Add("health-check (the group's own probes test its members)");
            if (unhonoured.Count > 0)
                notes.Add($"{where}: proxy provider \"{name}\": {string.Join(", ", unhonoured)} not carried over");
            usable[name] = new ProxyProvider(name, type == "http" ? url : null, interval, filter, servers, extras);
        }
        return usable;
    }

    /// <summary>A file or inline provider's servers, converted as the config's own proxies are and filtered by the provider.</summary>
    private static List<JsonObject>? ReadProviderServers(string name, YamlMappingNode entry, string type, string source, NameFilter filter,
        ServerOverride change, HashSet<string> taken, List<string> notes, out string? why)
    {
        why = null;
        SubscriptionBody.Result parsed;
        try
        {
            if (type == "inline")
            {
                if (!entry.Children.TryGetValue(new YamlScalarNode("payload"), out var payload) || payload is not YamlSequenceNode)
                {
                    why = "an inline provider needs a \"payload:\" list of proxies";
                    return null;
                }
                parsed = ParseProxies(new YamlMappingNode(new YamlScalarNode("proxies"), payload), $"{source}: proxy provider \"{name}\"", withGroups: false);
            }
            else
            {
                if (ProviderFile(entry, source, out why) is not { } path) return null;
                string text = System.Text.Encoding.UTF8.GetString(Configuration.BoundedFileSource.Instance.Read(path, MaxChars));
                parsed = SubscriptionBody.ParseAny(text, path);
            }
        }
        catch (Exception e) when (e is ImportException or IOException or UnauthorizedAccessException or Configuration.FileRefusedException)
        {
            why = e.Message;
            return null;
        }
        notes.AddRange(parsed.Notes);
        // As mihomo: the provider's filter on the names as listed, then its override.
        var servers = change.Apply(filter.Compile().Apply(parsed.Outbounds)).Select(o => o.DeepClone().AsObject()).ToList();
        foreach (var o in servers)
        {
            string wanted = (string)o["tag"]!;
            string tag = wanted;
            for (int n = 2; !taken.Add(tag); n++) tag = $"{wanted}-{n}";
            o["tag"] = tag;
        }
        return servers;
    }

    /// <summary>
    /// A file provider's path: a relative one from the profile's folder (mihomo's home). A profile that is not a local file
    /// names no file at all: it came from a URL, and the importer (perhaps root) must not read what a server chose.
    /// </summary>
    private static string? ProviderFile(YamlMappingNode entry, string source, out string? why)
    {
        why = null;
        if (Scalar(entry, "path") is not { Length: > 0 } path)
        {
            why = "a file provider needs a \"path\"";
            return null;
        }
        if (source.Contains("://", StringComparison.Ordinal) || Path.GetDirectoryName(Path.GetFullPath(source)) is not { } folder)
        {
            why = $"its path \"{path}\" is a file named by a config that is not a local file";
            return null;
        }
        return Path.IsPathRooted(path) ? path : Path.GetFullPath(Path.Combine(folder, path));
    }

    /// <summary>What a group takes from providers: members read at import (file/inline), and whether a subscription feeds it.</summary>
    private readonly record struct ProviderMembers(List<string> Members, bool Fed);

    /// <summary>
    /// The providers <paramref name="group"/> uses, in its order: subscriptions for the http ones (added to
    /// <paramref name="subscriptions"/>), member tags for the file/inline ones. Every provider passes the group's filters too.
    /// </summary>
    private static ProviderMembers FeedFromProviders(YamlMappingNode entry, string group, string where,
        Dictionary<string, ProxyProvider> providers, IReadOnlyList<string> allProviders, List<JsonObject> subscriptions, List<string> notes)
    {
        var result = new ProviderMembers([], false);
        List<string> used = IsTrue(Scalar(entry, "include-all")) || IsTrue(Scalar(entry, "include-all-providers")) ? [.. allProviders]
            : !entry.Children.TryGetValue(new YamlScalarNode("use"), out var useNode) ? []
            : useNode is YamlSequenceNode list ? list.OfType<YamlScalarNode>().Select(n => n.Value ?? "").ToList()
            : useNode is YamlScalarNode one ? [one.Value ?? ""] : [];
        if (used.Count == 0) return result;
        if (!NameFilter.TryRead(entry, out var groupFilter, out string? why))
        {
            notes.Add($"{where}: group \"{group}\": its providers ({string.Join(", ", used)}) not imported: {why}");
            return result;
        }
        bool subscribed = false;
        foreach (string name in used)
        {
            if (!providers.TryGetValue(name, out var provider))
            {
                notes.Add($"{where}: group \"{group}\": provider \"{name}\" left out (not imported)");
                continue;
            }
            if (provider.Servers is { } servers)
            {
                // Read now: the group's filter picks among them here, as the subscription's filter would at each fetch.
                if (subscribed) notes.Add($"{where}: group \"{group}\": provider \"{name}\"'s servers come before those of the http providers it names earlier (Sluice puts a group's listed members first)");
                result.Members.AddRange(groupFilter.Compile().Apply(servers).Select(o => (string)o["tag"]!));
                continue;
            }
            string tag = Plain(provider.Name);
            for (int n = 2; subscriptions.Any(s => (string?)s["tag"] == tag); n++) tag = $"{Plain(provider.Name)}-{n}";
            var subscription = new JsonObject { ["tag"] = tag, ["url"] = provider.Url, ["group"] = group };
            if (provider.Interval is { } interval) subscription["interval"] = interval;
            if (provider.Extras.Override.ToJson() is { } change) subscription["override"] = change;
            if (provider.Extras.Headers is { } headers) subscription["headers"] = headers.DeepClone();
            provider.Filter.And(groupFilter).WriteTo(subscription);
            subscriptions.Add(subscription);
            subscribed = true;
        }
        return result with { Fed = subscribed };

        static string Plain(string name) => name is "." or ".." ? "provider" : name.Replace('/', '_').Replace('\\', '_').Replace('\0', '_');
    }
}
