using System.Text.Json.Nodes;
using Sluice.Core.Outbounds.WireGuard;

namespace Sluice.Core.Importing;

/// <summary>
/// Outbound objects back to share links (`sluice import --links`): one writer per link scheme, each the
/// inverse of its reader in <see cref="ShareLinks"/>, so a written link imports to the same outbound.
/// </summary>
public static class ShareLinkWriter
{
    /// <summary>The link for <paramref name="outbound"/>, or null when its type has no share-link form (direct, groups, a wireguard endpoint with several peers).</summary>
    public static string? Write(JsonObject outbound) => (string?)outbound["type"] switch
    {
        "shadowsocks" => ShadowsocksLink.Write(outbound),
        "vless" => VlessLink.Write(outbound),
        "vmess" => VmessLink.Write(outbound),
        "trojan" => TrojanLink.Write(outbound),
        "wireguard" => WireGuardLink.Write(outbound),
        "socks" => WriteCredentialsLink("socks5", outbound),
        "http" => WriteCredentialsLink(outbound["tls"] is JsonObject { } tls && tls["enabled"]?.GetValue<bool>() != false ? "https" : "http", outbound),
        _ => null,
    };

    /// <summary>
    /// A sing-box config as written by hand (comments, trailing commas) in the plain JSON <see cref="WriteAll"/> reads;
    /// an <see cref="ImportException"/> naming the line when it is not JSON or has no "outbounds" list.
    /// </summary>
    public static string NormalizeConfig(string text, string source)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(text, documentOptions: new System.Text.Json.JsonDocumentOptions
            {
                CommentHandling = System.Text.Json.JsonCommentHandling.Skip, AllowTrailingCommas = true,
            });
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new ImportException($"{source}: invalid JSON at line {e.LineNumber + 1}: {e.Message}");
        }
        if (root is not JsonObject config || config["outbounds"] is not JsonArray)
            throw new ImportException($"{source}: a JSON file without an \"outbounds\" list (not a sing-box config)");
        return config.ToJsonString();
    }

    /// <summary>Every outbound of a rendered config that has a link form, one per line; the rest are named in <paramref name="skipped"/>.</summary>
    public static string WriteAll(string configJson, List<string> skipped)
    {
        var config = JsonNode.Parse(configJson)!.AsObject();
        var lines = new List<string>();
        // Endpoints (WireGuard) after the outbounds: a wireguard:// link is an endpoint of one peer.
        foreach (var node in (config["outbounds"]?.AsArray() ?? []).Concat(config["endpoints"]?.AsArray() ?? []))
        {
            if (node is not JsonObject o || (string?)o["type"] is "direct" or "block" or "selector" or "urltest" or "fallback") continue;
            if (Write(o) is { } link)
            {
                lines.Add(link);
                if (Dropped(o, link) is { Count: > 0 } dropped)
                    skipped.Add($"outbound \"{(string?)o["tag"]}\": its link has no form for {string.Join(", ", dropped)}; the link imports without them");
            }
            else skipped.Add($"outbound \"{(string?)o["tag"]}\" ({(string?)o["type"]}) has no share-link form; not written");
        }
        return lines.Count == 0 ? "" : string.Join('\n', lines) + "\n";
    }

    /// <summary>
    /// The outbound's fields its link leaves out (detour, bind_interface, network, …): read back, the link lacks them, so
    /// whoever imports it would send the traffic another way; said rather than dropped in silence.
    /// </summary>
    private static List<string> Dropped(JsonObject outbound, string link)
    {
        JsonObject back;
        try
        {
            back = ShareLinks.Parse(link, (string?)outbound["tag"] ?? "x");
        }
        catch (ImportException)
        {
            return [];
        }
        // A field at its zero value or default asks for nothing the link could lose (vless's packet_encoding default is xudp).
        var dropped = outbound.Where(p => p.Value is not null && !back.ContainsKey(p.Key)
                && !IsInert(p.Value) && !(p.Key == "packet_encoding" && (string?)p.Value == "xudp" && (string?)outbound["type"] == "vless"))
            .Select(p => p.Key).ToList();
        // A transport's fields past what links carry (method, headers, idle_timeout, …), named as transport.FIELD.
        if (outbound["transport"] is JsonObject transport && back["transport"] is JsonObject backTransport)
            dropped.AddRange(transport.Where(p => p.Value is not null && !backTransport.ContainsKey(p.Key) && !IsInert(p.Value)).Select(p => "transport." + p.Key));
        return dropped;

        static bool IsInert(JsonNode? value)
        {
            using var document = System.Text.Json.JsonDocument.Parse(value!.ToJsonString());
            return Configuration.ObjectReader.IsInert(document.RootElement);
        }
    }

    private static string WriteCredentialsLink(string scheme, JsonObject o)
    {
        string credentials = o["username"] is JsonValue user
            ? $"{Uri.EscapeDataString((string)user!)}:{Uri.EscapeDataString((string?)o["password"] ?? "")}@"
            : "";
        return $"{scheme}://{credentials}{ShareLinks.HostPort(o)}#{Uri.EscapeDataString((string)o["tag"]!)}";
    }
}
