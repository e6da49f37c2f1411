using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Sluice.Core.Outbounds.Shadowsocks;
using Sluice.Core.Outbounds.WireGuard;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace Sluice.Core.Importing;

/// <summary>
/// A Clash (Clash/mihomo) config's <c>proxies:</c> list to sing-box outbound objects:
/// <c>type: ss</c> (see ClashYaml.Shadowsocks.cs), <c>socks5</c>, <c>http</c>, <c>vless</c>, <c>vmess</c> and <c>trojan</c>
/// become outbounds, <c>wireguard</c> an endpoint (ClashYaml.WireGuard.cs); any other entry is skipped with a one-line note naming it. For a subscription that is
/// all (Sluice's own rules apply); `sluice import` also takes the proxy-groups, rules and ports (ClashYaml.Config.cs).
/// Read with YamlDotNet's representation model (no reflection, so it stays trimming/AOT-safe).
/// A document that is not YAML is an error naming the line.
/// </summary>
public static partial class ClashYaml
{
    /// <summary>
    /// Size and nesting checked on the event stream (the parser keeps its own stack, it does not recurse)
    /// before the representation model is built: a deeply nested document from a subscription would
    /// otherwise overflow the root daemon's stack, and crash-loop it on resume.
    /// </summary>
    private static void CheckBounds(string text, string source)
    {
        if (text.Length > MaxChars)
            throw new ImportException($"{source}: {text.Length} characters; a Clash config is read up to {MaxChars}");
        var parser = new Parser(new StringReader(text));
        int depth = 0;
        try
        {
            while (parser.MoveNext())
            {
                switch (parser.Current)
                {
                    case MappingStart or SequenceStart:
                        if (++depth > MaxDepth)
                            throw new ImportException($"{source}: line {parser.Current.Start.Line}: nested deeper than {MaxDepth} levels (a proxies list needs 3)");
                        break;
                    case MappingEnd or SequenceEnd:
                        depth--;
                        break;
                }
            }
        }
        catch (Exception e) when (e is YamlException or InvalidOperationException)
        {
            // Not YAML: the full parse below names the line.
        }
    }

    /// <summary>True when the text has a top-level <c>proxies:</c> key.</summary>
    public static bool Looks(string text) => ProxiesKey().IsMatch(text);

    /// <summary>Nesting a document may have; a proxies list needs 3. YamlDotNet's node builder recurses per level.</summary>
    public const int MaxDepth = 64;

    /// <summary>Characters read; a subscription body is at most 4 MiB already.</summary>
    public const int MaxChars = 4 * 1024 * 1024;

    public static SubscriptionBody.Result Parse(string text, string source) => ParseProxies(LoadRoot(text, source), source, withGroups: false);

    /// <summary>The document's root mapping, after the size and nesting bounds; errors name the line.</summary>
    private static YamlMappingNode LoadRoot(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        CheckBounds(text, source);
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new ImportException($"{source}: line {e.Start.Line}: not valid YAML: {FirstLine(e.InnerException?.Message ?? e.Message)}");
        }
        catch (InvalidOperationException e)
        {
            // YamlDotNet's representation model throws this (without a position) for some broken flow
            // collections; find the line by scanning events, which do carry one.
            throw new ImportException($"{source}: line {LastGoodLine(text)}: not valid YAML: an unclosed [ or {{ or a broken value ({FirstLine(e.Message)})");
        }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new ImportException($"{source}: not a Clash config (expected a mapping with a \"proxies:\" list)");
        ResolveMerges(root, source);
        return root;
    }

    /// <param name="withGroups">The proxy-groups are imported too, so a dialer-proxy may name one; a whole config whose
    /// servers all come from proxy-providers may then have no proxies of its own.</param>
    private static SubscriptionBody.Result ParseProxies(YamlMappingNode root, string source, bool withGroups)
    {
        bool fromProviders = withGroups && root.Children.ContainsKey(new YamlScalarNode("proxy-providers"));
        if (!root.Children.TryGetValue(new YamlScalarNode("proxies"), out var proxiesNode) && fromProviders) return new SubscriptionBody.Result([], []);
        if (proxiesNode is null)
            throw new ImportException($"{source}: no \"proxies:\" list");
        if (proxiesNode is not YamlSequenceNode proxies)
            throw new ImportException($"{source}: line {proxiesNode.Start.Line}: \"proxies:\" is not a list");

        var outbounds = new List<JsonObject>();
        var notes = new List<string>();
        var tags = new HashSet<string>(StringComparer.Ordinal);
        var proxyTags = new Dictionary<string, string>(StringComparer.Ordinal);
        var chained = new List<(JsonObject, string, string)>();
        int index = 0;
        foreach (var node in proxies)
        {
            index++;
            string where = $"{source}: line {node.Start.Line}";
            if (node is not YamlMappingNode entry)
            {
                notes.Add($"{where}: proxies[{index - 1}] skipped: not a mapping");
                continue;
            }
            string name = Scalar(entry, "name") ?? $"proxy-{index}";
            try
            {
                var o = Convert(entry, name);
                string tag = name;
                for (int n = 2; !tags.Add(tag); n++) tag = $"{name}-{n}";
                o["tag"] = tag;
                outbounds.Add(o);
                proxyTags.TryAdd(name, tag);
                if (Scalar(entry, "dialer-proxy") is { Length: > 0 } dialer) chained.Add((o, dialer, where));
            }
            catch (ImportException e)
            {
                notes.Add($"{where}: \"{name}\" skipped: {e.Message}");
            }
        }
        var groupNames = withGroups ? GroupNames(root) : [];
        ResolveDialerProxies(chained, proxyTags, groupNames, outbounds, notes);
        if (outbounds.Count == 0 && !fromProviders)
            throw new ImportException(notes.Count > 0 ? $"no usable proxy; first: {notes[0]}" : $"{source}: \"proxies:\" is empty");
        return new SubscriptionBody.Result(outbounds, notes);
    }

    /// <summary>The names of the profile's proxy-groups.</summary>
    private static HashSet<string> GroupNames(YamlMappingNode root)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        if (root.Children.TryGetValue(new YamlScalarNode("proxy-groups"), out var groups) && groups is YamlSequenceNode groupList)
            foreach (var g in groupList.OfType<YamlMappingNode>())
                if (Scalar(g, "name") is { } groupName) names.Add(groupName);
        return names;
    }

    private static JsonObject Convert(YamlMappingNode entry, string name)
    {
        string type = Scalar(entry, "type") ?? throw new ImportException("no \"type\"");
        // An endpoint, not an outbound; its peers (one or several) carry the servers.
        if (type == "wireguard") return ConvertWireGuard(entry, name);
        string server = Scalar(entry, "server") ?? throw new ImportException("no \"server\"");
        string portText = Scalar(entry, "port") ?? throw new ImportException("no \"port\"");
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
            throw new ImportException($"port \"{portText}\" is not a number in 1..65535");
        RefuseUnsupported(entry);
        var o = ConvertType(entry, type, name, server, port);
        AddDialFields(entry, o);
        return o;
    }

    private static JsonObject ConvertType(YamlMappingNode entry, string type, string name, string server, int port)
    {
        switch (type)
        {
            case "ss":
                return ConvertShadowsocks(entry, name, server, port);
            case "socks5":
            case "http":
            {
                if (IsTrue(Scalar(entry, "tls")) && type == "socks5")
                    throw new ImportException($"{type} over TLS is not supported by Sluice");
                var o = new JsonObject
                {
                    ["type"] = type == "socks5" ? "socks" : "http", ["tag"] = name, ["server"] = server, ["server_port"] = port,
                };
                if (Scalar(entry, "username") is { Length: > 0 } user)
                {
                    o["username"] = user;
                    o["password"] = Scalar(entry, "password") ?? "";
                }
                if (IsTrue(Scalar(entry, "tls"))) o["tls"] = ClashV2Ray.Tls(entry);
                return o;
            }
            case "vless":
            case "vmess":
            case "trojan":
                return ClashV2Ray.Convert(entry, type, name, server, port);
            default:
                throw new ImportException($"type \"{type}\" is not imported (supported: ss, socks5, http, vless, vmess, trojan, wireguard)");
        }
    }

    private static string? Scalar(YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out var v) && v is YamlScalarNode s ? s.Value : null;

    /// <summary>The line where the event stream breaks (the last event the parser could read).</summary>
    private static long LastGoodLine(string text)
    {
        var parser = new Parser(new StringReader(text));
        long line = 1;
        try
        {
            while (parser.MoveNext()) line = parser.Current?.Start.Line ?? line;
        }
        catch (YamlException e)
        {
            return e.Start.Line;
        }
        catch (InvalidOperationException)
        {
            // The scanner ran off the end inside an open collection: name where the last event began.
        }
        return line;
    }

    private static string FirstLine(string message)
    {
        int nl = message.IndexOf('\n');
        return (nl >= 0 ? message[..nl] : message).Trim();
    }

    [GeneratedRegex(@"^proxies\s*:", RegexOptions.Multiline)]
    private static partial Regex ProxiesKey();
}
