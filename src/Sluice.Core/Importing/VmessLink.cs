using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Sluice.Core.Outbounds.Vmess;
using Sluice.Core.Outbounds.WireGuard;

namespace Sluice.Core.Importing;

/// <summary>
/// vmess://base64(JSON) — v2rayN's form: v, ps (name), add, port, id, aid, scy, net (tcp|ws|grpc|h2|http|httpupgrade), type (header type; grpc: the mode),
/// host, path, tls ("tls" or ""), sni, alpn, fp — to a sing-box "vmess" outbound, and back. Port and aid may be
/// numbers or strings, as clients write both. Fields Sluice cannot honour (aid > 0, another net, HTTP camouflage,
/// an unknown scy) are refused by name; errors never quote the link (it holds the uuid).
/// </summary>
internal static class VmessLink
{
    private const int MaxJson = 8 * 1024;

    public static JsonObject Parse(string rest, string? name, string fallbackTag, Action<string>? note = null)
    {
        string body = rest.Trim().TrimEnd('/');
        if (body.Length > MaxJson * 2) throw Bad("longer than a share link can be");
        string json = ShareLinks.DecodeBase64(body) ?? throw Bad("the part after vmess:// is not base64 (expected v2rayN's base64 of a JSON object)");
        JsonObject fields;
        try
        {
            fields = JsonNode.Parse(json) as JsonObject ?? throw Bad("the decoded part is not a JSON object");
            _ = fields.Count; // a repeated key shows here, not later
        }
        catch (Exception e) when (e is JsonException or ArgumentException)
        {
            throw Bad("the decoded part is not JSON (expected v2rayN's {\"v\": \"2\", \"add\": …} object)");
        }
        string? Text(string key) => fields[key] switch
        {
            JsonValue v when v.TryGetValue(out string? s) => s.Trim(),
            JsonValue v when v.TryGetValue(out long n) => n.ToString(CultureInfo.InvariantCulture),
            null => null,
            _ => throw Bad($"\"{key}\" is neither a string nor a number"),
        };
        string host = Text("add") is { Length: > 0 } add ? add : throw Bad("no server address (\"add\")");
        if (!int.TryParse(Text("port"), NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
            throw Bad("\"port\" is not a number in 1..65535");
        string uuid = Text("id") ?? throw Bad("no user id (\"id\")");
        if (!Guid.TryParseExact(uuid, "D", out _)) throw Bad("\"id\" is not a UUID");
        string aid = Text("aid") ?? "0";
        if (aid is not ("" or "0"))
            throw Bad($"aid {aid}: the legacy MD5/timestamp header (alterId > 0) is not supported by Sluice; the server accepts the AEAD header with aid 0");
        string security = Text("scy") ?? "auto";
        if (VmessOptionsParser.SecurityNamed(security) is null) throw Bad($"scy \"{security}\" is not supported (auto, aes-128-gcm, chacha20-poly1305, none, zero)");
        string tag = name ?? (Text("ps") is { Length: > 0 } ps ? ps : fallbackTag);
        var o = new JsonObject { ["type"] = "vmess", ["tag"] = tag, ["server"] = host, ["server_port"] = port, ["uuid"] = uuid };
        if (security is not ("" or "auto")) o["security"] = security;
        if (Text("tls") is { Length: > 0 } tlsMode)
        {
            if (tlsMode != "tls") throw Bad($"tls \"{tlsMode}\" is not supported (\"tls\" or empty)");
            var tls = new JsonObject { ["enabled"] = true };
            if (Text("sni") is { Length: > 0 } sni) tls["server_name"] = sni;
            if (Text("alpn") is { Length: > 0 } alpn)
                tls["alpn"] = new JsonArray(alpn.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(a => (JsonNode)a!).ToArray());
            if (Text("fp") is { Length: > 0 } fp) tls["utls"] = new JsonObject { ["enabled"] = true, ["fingerprint"] = fp };
            if (IsTrue(fields["allowInsecure"]) || IsTrue(fields["insecure"])) tls["insecure"] = true;
            o["tls"] = tls;
        }
        string net = Text("net") ?? "tcp";
        if (net is "tcp" or "" or "raw")
        {
            if (Text("type") is { Length: > 0 } header && header != "none")
                throw Bad($"type \"{header}\" (TCP HTTP camouflage) is not supported");
        }
        else if (net == "ws")
        {
            var ws = new JsonObject { ["type"] = "ws" };
            V2RayLinkFields.SetWebSocketPath(ws, Text("path") ?? "/");
            if (Text("host") is { Length: > 0 } wsHost) ws["headers"] = new JsonObject { ["Host"] = wsHost };
            o["transport"] = ws;
        }
        // v2rayN's grpc: the service name in "path", the mode in "type".
        else if (net == "grpc") o["transport"] = V2RayLinkFields.Grpc("vmess", Text("path") ?? "", Text("type") is { Length: > 0 } mode and not "none" ? mode : null, note);
        else if (net is "h2" or "http") o["transport"] = V2RayLinkFields.Http(Text("host"), Text("path"));
        else if (net == "httpupgrade") o["transport"] = V2RayLinkFields.HttpUpgrade(Text("host") is { Length: > 0 } upHost ? upHost : null, Text("path"));
        else throw Bad($"net \"{net}\" is not supported (tcp, ws, grpc, h2, http, httpupgrade)");
        return o;
    }

    private static bool IsTrue(JsonNode? node) => node is JsonValue v
        && ((v.TryGetValue(out bool b) && b) || (v.TryGetValue(out string? s) && s is "1" or "true") || (v.TryGetValue(out long n) && n == 1));

    /// <summary>v2rayN's JSON, base64 with padding; every value a string, as v2rayN writes them.</summary>
    public static string Write(JsonObject outbound)
    {
        var fields = new JsonObject
        {
            ["v"] = "2",
            ["ps"] = (string?)outbound["tag"] ?? "",
            ["add"] = (string)outbound["server"]!,
            ["port"] = ((int)outbound["server_port"]!).ToString(CultureInfo.InvariantCulture),
            ["id"] = (string)outbound["uuid"]!,
            ["aid"] = "0",
            ["scy"] = (string?)outbound["security"] ?? "auto",
            ["net"] = "tcp",
            ["type"] = "none",
            ["host"] = "",
            ["path"] = "",
            ["tls"] = "",
        };
        if (outbound["transport"] is JsonObject transport && (string?)transport["type"] == "ws")
        {
            fields["net"] = "ws";
            string path = (string?)transport["path"] ?? "/";
            if ((int?)transport["max_early_data"] is { } ed) path += "?ed=" + ed.ToString(CultureInfo.InvariantCulture);
            fields["path"] = path;
            if (transport["headers"] is JsonObject headers && (string?)headers["Host"] is { } wsHost) fields["host"] = wsHost;
        }
        else if (outbound["transport"] is JsonObject grpc && (string?)grpc["type"] == "grpc")
        {
            fields["net"] = "grpc";
            fields["type"] = "gun";
            fields["path"] = (string?)grpc["service_name"] ?? "";
        }
        else if (outbound["transport"] is JsonObject http && (string?)http["type"] == "http")
        {
            fields["net"] = "h2";
            fields["path"] = (string?)http["path"] ?? "/";
            fields["host"] = V2RayLinkFields.HostList(http);
        }
        else if (outbound["transport"] is JsonObject up && (string?)up["type"] == "httpupgrade")
        {
            fields["net"] = "httpupgrade";
            fields["path"] = (string?)up["path"] ?? "/";
            fields["host"] = (string?)up["host"] ?? "";
        }
        if (outbound["tls"] is JsonObject tls && (bool?)tls["enabled"] == true)
        {
            fields["tls"] = "tls";
            if ((string?)tls["server_name"] is { } sni) fields["sni"] = sni;
            if (tls["alpn"] is JsonArray alpn && alpn.Count > 0) fields["alpn"] = string.Join(',', alpn.Select(a => (string?)a));
            if (tls["utls"] is JsonObject utls && (string?)utls["fingerprint"] is { } fp) fields["fp"] = fp;
            if ((bool?)tls["insecure"] == true) fields["allowInsecure"] = "1";
        }
        return "vmess://" + Convert.ToBase64String(Encoding.UTF8.GetBytes(fields.ToJsonString()));
    }

    private static ImportException Bad(string problem) => V2RayLinkFields.Bad("vmess", problem);
}
