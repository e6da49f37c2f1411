using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Sluice.Core.Outbounds.Tls;
using Sluice.Core.Outbounds.WireGuard;

namespace Sluice.Core.Importing;

/// <summary>
/// The query fields vless:// and trojan:// links share (the v2rayN / Xray share-link convention):
/// security (none|tls|reality), sni (or peer), alpn, fp, allowInsecure/insecure, pbk, sid, type (tcp|ws), path,
/// host, ed/eh (early data); ech, pqv and fragment are refused (Sluice cannot give what they ask for); mapped to sing-box's "tls" and "transport" objects and back. Errors name
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

    /// <summary>"transport" from type/path/host/ed/eh; null for type=tcp (or absent).</summary>
    public static JsonObject? Transport(LinkParts link)
    {
        string type = link.Query.GetValueOrDefault("type", "tcp");
        if (type is "tcp" or "" or "raw")
        {
            if (link.Query.GetValueOrDefault("headerType") is { Length: > 0 } header && header != "none")
                throw Bad(link.Scheme, $"headerType \"{header}\" (TCP HTTP camouflage) is not supported");
            return null;
        }
        if (type != "ws") throw Bad(link.Scheme, $"type \"{type}\" is not supported (tcp, ws)");
        var ws = new JsonObject { ["type"] = "ws" };
        SetWebSocketPath(ws, link.Query.GetValueOrDefault("path", "/"));
        if (link.Query.GetValueOrDefault("host") is { Length: > 0 } host) ws["headers"] = new JsonObject { ["Host"] = host };
        if (link.Query.GetValueOrDefault("ed") is { } edText)
        {
            if (!int.TryParse(edText, NumberStyles.None, CultureInfo.InvariantCulture, out int n))
                throw Bad(link.Scheme, $"ed \"{edText}\" is not a number of bytes");
            ws["max_early_data"] = n;
        }
        if (link.Query.GetValueOrDefault("eh") is { Length: > 0 } eh) ws["early_data_header_name"] = eh;
        return ws;
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
        if (outbound["transport"] is JsonObject transport && (string?)transport["type"] == "ws")
        {
            query.Add(new("type", "ws"));
            query.Add(new("path", (string?)transport["path"] ?? "/"));
            if (transport["headers"] is JsonObject headers && (string?)headers["Host"] is { } host) query.Add(new("host", host));
            if ((int?)transport["max_early_data"] is { } ed) query.Add(new("ed", ed.ToString(CultureInfo.InvariantCulture)));
            if ((string?)transport["early_data_header_name"] is { } eh) query.Add(new("eh", eh));
        }
        else
        {
            query.Add(new("type", "tcp"));
        }
        return query;
    }

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
