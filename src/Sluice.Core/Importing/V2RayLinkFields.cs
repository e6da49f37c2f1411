using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Sluice.Core.Outbounds.Tls;
using Sluice.Core.Outbounds.WireGuard;

namespace Sluice.Core.Importing;

/// <summary>
/// The query fields vless:// and trojan:// links share (the v2rayN / Xray share-link convention):
/// security (none|tls|reality), sni (or peer), alpn, fp, allowInsecure/insecure, pbk, sid,
/// type (tcp|ws|grpc|http|h2|httpupgrade), path, host, ed/eh (early data), serviceName/mode (grpc); ech, pqv and fragment are refused (Sluice cannot give what they ask for); mapped to sing-box's "tls" and "transport" objects and back. Errors name
/// the field and never quote a secret.
/// </summary>
internal static class V2RayLinkFields
{
    /// <summary>The parts of a link: "scheme://userinfo@host:port?query#name" with the userinfo still encoded.</summary>
    public sealed record LinkParts(string Scheme, string UserInfo, string Host, int Port, Dictionary<string, string> Query);

    public static LinkParts Split(string scheme, string rest)
    {
        var query = new Dictionary<string, string>(StringComparer.Ordinal);
        int q = rest.IndexOf('?');
        if (q >= 0)
        {
            foreach (var pair in rest[(q + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var kv = pair.Split('=', 2);
                query[Uri.UnescapeDataString(kv[0])] = kv.Length > 1 ? Uri.UnescapeDataString(kv[1].Replace('+', ' ')) : "";
            }
            rest = rest[..q];
        }
        rest = rest.TrimEnd('/');
        int at = rest.LastIndexOf('@');
        if (at <= 0) throw Bad(scheme, "no '@' between the credentials and host:port");
        string userInfo = rest[..at], hostPort = rest[(at + 1)..];
        int colon = hostPort.LastIndexOf(':');
        if (colon <= 0 || (hostPort.StartsWith('[') && hostPort[colon - 1] != ']'))
            throw Bad(scheme, "the part after '@' is not host:port");
        string host = hostPort[..colon].Trim('[', ']');
        if (!int.TryParse(hostPort.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
            throw Bad(scheme, $"port \"{hostPort[(colon + 1)..]}\" is not a number in 1..65535");
        if (host.Length == 0 || (Uri.CheckHostName(host) == UriHostNameType.Unknown && !IPAddress.TryParse(host, out _)))
            throw Bad(scheme, $"host \"{host}\" is not a host name or address");
        return new LinkParts(scheme, userInfo, host, port, query);
    }

    /// <summary>"tls" from security/sni/alpn/fp/allowInsecure/pbk/sid; null for security=none.</summary>
    public static JsonObject? Tls(LinkParts link, string defaultSecurity)
    {
        string security = link.Query.GetValueOrDefault("security", defaultSecurity);
        if (security is "" or "none") return null;
        if (security is not ("tls" or "reality")) throw Bad(link.Scheme, $"security \"{security}\" is not supported (none, tls, reality)");
        // Each asks for protection Sluice's TLS cannot give: refused, never dropped.
        if (link.Query.GetValueOrDefault("ech") is { Length: > 0 })
            throw Bad(link.Scheme, "ech (Encrypted Client Hello) is not supported by Sluice: without it the server name would travel in the clear");
        if (link.Query.GetValueOrDefault("pqv") is { Length: > 0 })
            throw Bad(link.Scheme, "pqv (the Reality server's ML-DSA-65 signature check) is not supported by Sluice: it cannot make the check the link asks for");
        if (link.Query.GetValueOrDefault("fragment") is { Length: > 0 })
            throw Bad(link.Scheme, "fragment (ClientHello fragmentation) is not supported by Sluice (as sing-box's tls.fragment)");
        var tls = new JsonObject { ["enabled"] = true };
        // "peer" is the older trojan-go / Shadowrocket name of the same field.
        if ((link.Query.GetValueOrDefault("sni") is { Length: > 0 } s ? s : link.Query.GetValueOrDefault("peer")) is { Length: > 0 } sni)
            tls["server_name"] = sni;
        if (link.Query.GetValueOrDefault("allowInsecure") is "1" or "true" || link.Query.GetValueOrDefault("insecure") is "1" or "true")
            tls["insecure"] = true;
        if (link.Query.GetValueOrDefault("alpn") is { Length: > 0 } alpn)
            tls["alpn"] = new JsonArray(alpn.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(a => (JsonNode)a!).ToArray());
        if (link.Query.GetValueOrDefault("fp") is { Length: > 0 } fp) tls["utls"] = new JsonObject { ["enabled"] = true, ["fingerprint"] = fp };
        if (security == "reality")
        {
            string key = link.Query.GetValueOrDefault("pbk") ?? throw Bad(link.Scheme, "security=reality needs pbk (the server's public key)");
            var reality = new JsonObject { ["enabled"] = true, ["public_key"] = key };
            if (link.Query.GetValueOrDefault("sid") is { Length: > 0 } sid) reality["short_id"] = sid;
            tls["reality"] = reality;
        }
        return tls;
    }

    /// <summary>
    /// "transport" from type/path/host/ed/eh/serviceName/mode; null for type=tcp (or absent). A note (for the import's
    /// notes, by line) goes to <paramref name="note"/> when the link asks for something imported in another form.
    /// </summary>
    public static JsonObject? Transport(LinkParts link, Action<string>? note = null)
    {
        string type = link.Query.GetValueOrDefault("type", "tcp");
        string? host = link.Query.GetValueOrDefault("host") is { Length: > 0 } h ? h : null;
        switch (type)
        {
            case "tcp" or "" or "raw":
                if (link.Query.GetValueOrDefault("headerType") is { Length: > 0 } header && header != "none")
                    throw Bad(link.Scheme, $"headerType \"{header}\" (TCP HTTP camouflage) is not supported");
                return null;
            case "ws":
                var ws = new JsonObject { ["type"] = "ws" };
                SetWebSocketPath(ws, link.Query.GetValueOrDefault("path", "/"));
                if (host is not null) ws["headers"] = new JsonObject { ["Host"] = host };
                if (link.Query.GetValueOrDefault("ed") is { } edText)
                {
                    if (!int.TryParse(edText, NumberStyles.None, CultureInfo.InvariantCulture, out int n))
                        throw Bad(link.Scheme, $"ed \"{edText}\" is not a number of bytes");
                    ws["max_early_data"] = n;
                }
                if (link.Query.GetValueOrDefault("eh") is { Length: > 0 } eh) ws["early_data_header_name"] = eh;
                return ws;
            case "grpc":
                return Grpc(link.Scheme, link.Query.GetValueOrDefault("serviceName") ?? "", link.Query.GetValueOrDefault("mode"), note);
            case "http" or "h2":
                return Http(host, link.Query.GetValueOrDefault("path"));
            case "httpupgrade":
                return HttpUpgrade(host, link.Query.GetValueOrDefault("path"));
            default:
                throw Bad(link.Scheme, $"type \"{type}\" is not supported ({SupportedTypes})");
        }
    }

    public const string SupportedTypes = "tcp, ws, grpc, http, h2, httpupgrade";

    /// <summary>sing-box's grpc transport; Xray's mode=multi (its own variant) is imported as gun, with a note.</summary>
    public static JsonObject Grpc(string scheme, string serviceName, string? mode, Action<string>? note)
    {
        switch (mode)
        {
            case null or "" or "gun":
                break;
            case "multi":
                note?.Invoke("grpc mode=multi is Xray's own multi mode (sing-box and Sluice speak gun): imported as gun, which Xray servers also accept");
                break;
            default:
                throw Bad(scheme, $"grpc mode \"{mode}\" is not supported (gun, multi)");
        }
        return new JsonObject { ["type"] = "grpc", ["service_name"] = serviceName };
    }

    /// <summary>sing-box's http transport: host is a comma-separated list in links (v2rayN's form).</summary>
    public static JsonObject Http(string? hosts, string? path)
    {
        var http = new JsonObject { ["type"] = "http" };
        if (hosts?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) is { Length: > 0 } list)
            http["host"] = new JsonArray(list.Select(x => (JsonNode)x!).ToArray());
        http["path"] = path is { Length: > 0 } ? path : "/";
        return http;
    }

    public static JsonObject HttpUpgrade(string? host, string? path)
    {
        var up = new JsonObject { ["type"] = "httpupgrade" };
        if (host is not null) up["host"] = host;
        up["path"] = path is { Length: > 0 } ? path : "/";
        return up;
    }

    /// <summary>
    /// A ws transport's "path", with Xray's and mihomo's early-data form "/path?ed=N" read as sing-box's max_early_data N
    /// sent in Sec-WebSocket-Protocol (the "ed" parameter itself is not sent to the server).
    /// </summary>
    public static void SetWebSocketPath(JsonObject ws, string path)
    {
        int ed = path.IndexOf("?ed=", StringComparison.Ordinal);
        if (ed >= 0 && int.TryParse(path.AsSpan(ed + 4), NumberStyles.None, CultureInfo.InvariantCulture, out int inPath))
        {
            path = path[..ed];
            ws["max_early_data"] = inPath;
            ws["early_data_header_name"] = "Sec-WebSocket-Protocol";
        }
        ws["path"] = path.Length == 0 ? "/" : path;
    }

    /// <summary>The query for an outbound's "tls" and "transport" (the inverse of <see cref="Tls"/> and <see cref="Transport"/>).</summary>
    public static List<KeyValuePair<string, string>> Query(JsonObject outbound)
    {
        var query = new List<KeyValuePair<string, string>>();
        if (outbound["tls"] is JsonObject tls && (bool?)tls["enabled"] == true)
        {
            bool reality = tls["reality"] is JsonObject r && (bool?)r["enabled"] == true;
            query.Add(new("security", reality ? "reality" : "tls"));
            if ((string?)tls["server_name"] is { } sni) query.Add(new("sni", sni));
            if ((bool?)tls["insecure"] == true) query.Add(new("allowInsecure", "1"));
            if (tls["alpn"] is JsonArray alpn && alpn.Count > 0) query.Add(new("alpn", string.Join(',', alpn.Select(a => (string?)a))));
            if (tls["utls"] is JsonObject utls && (string?)utls["fingerprint"] is { } fp) query.Add(new("fp", fp));
            if (tls["reality"] is JsonObject re && reality)
            {
                query.Add(new("pbk", (string?)re["public_key"] ?? ""));
                if ((string?)re["short_id"] is { } sid) query.Add(new("sid", sid));
            }
        }
        else
        {
            query.Add(new("security", "none"));
        }
        var transport = outbound["transport"] as JsonObject;
        switch ((string?)transport?["type"])
        {
            case "ws":
                query.Add(new("type", "ws"));
                query.Add(new("path", (string?)transport!["path"] ?? "/"));
                if (transport["headers"] is JsonObject headers && (string?)headers["Host"] is { } host) query.Add(new("host", host));
                if ((int?)transport["max_early_data"] is { } ed) query.Add(new("ed", ed.ToString(CultureInfo.InvariantCulture)));
                if ((string?)transport["early_data_header_name"] is { } eh) query.Add(new("eh", eh));
                break;
            case "grpc":
                query.Add(new("type", "grpc"));
                query.Add(new("serviceName", (string?)transport!["service_name"] ?? ""));
                query.Add(new("mode", "gun"));
                break;
            case "http":
                query.Add(new("type", "http"));
                query.Add(new("path", (string?)transport!["path"] ?? "/"));
                if (HostList(transport) is { Length: > 0 } hosts) query.Add(new("host", hosts));
                break;
            case "httpupgrade":
                query.Add(new("type", "httpupgrade"));
                query.Add(new("path", (string?)transport!["path"] ?? "/"));
                if ((string?)transport["host"] is { Length: > 0 } upHost) query.Add(new("host", upHost));
                break;
            default:
                query.Add(new("type", "tcp"));
                break;
        }
        return query;
    }

    /// <summary>An http transport's "host" (a list, or one string) as the links' comma-separated form.</summary>
    public static string HostList(JsonObject transport) => transport["host"] switch
    {
        JsonArray list => string.Join(',', list.Select(x => (string?)x)),
        JsonValue one => (string?)one ?? "",
        _ => "",
    };

    public static string Render(string scheme, string userInfo, JsonObject outbound, List<KeyValuePair<string, string>> query)
    {
        string host = (string)outbound["server"]!;
        if (host.Contains(':')) host = $"[{host}]";
        string q = string.Join('&', query.Select(kv => $"{Uri.EscapeDataString(kv.Key)}={Uri.EscapeDataString(kv.Value)}"));
        return $"{scheme}://{userInfo}@{host}:{(int)outbound["server_port"]!}?{q}#{Uri.EscapeDataString((string?)outbound["tag"] ?? "")}";
    }

    /// <summary>An error naming the scheme and the wrong part, never the link itself (it holds the password/uuid).</summary>
    public static ImportException Bad(string scheme, string problem) => new($"{scheme}:// link: {problem}");
}
