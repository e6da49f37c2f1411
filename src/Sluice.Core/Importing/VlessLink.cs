using System.Text.Json.Nodes;
using Sluice.Core.Outbounds.Vless;

namespace Sluice.Core.Importing;

/// <summary>
/// vless://uuid@host:port?encryption=none&amp;security=tls&amp;sni=…&amp;type=ws&amp;path=…&amp;flow=…&amp;packetEncoding=…#name
/// to a sing-box "vless" outbound, and back. security defaults to none, as in Xray's links; flow is empty or
/// xtls-rprx-vision (usually with security=reality).
/// </summary>
internal static class VlessLink
{
    public static JsonObject Parse(string rest, string tag, Action<string>? note = null)
    {
        var link = V2RayLinkFields.Split("vless", rest);
        string uuid = Uri.UnescapeDataString(link.UserInfo);
        if (VlessProtocol.ParseUserId(uuid) is null) throw V2RayLinkFields.Bad("vless", "the user id before '@' is not a UUID");
        if (link.Query.GetValueOrDefault("encryption") is { Length: > 0 } encryption && encryption != "none")
            throw V2RayLinkFields.Bad("vless", $"encryption \"{encryption}\" is not supported (only none)");
        var o = new JsonObject { ["type"] = "vless", ["tag"] = tag, ["server"] = link.Host, ["server_port"] = link.Port, ["uuid"] = uuid };
        string flow = link.Query.GetValueOrDefault("flow", "");
        if (flow == VlessOptionsParser.Vision) o["flow"] = flow;
        else if (flow.Length > 0) throw V2RayLinkFields.Bad("vless", UnsupportedFlow(flow));
        if (V2RayLinkFields.Tls(link, defaultSecurity: "none") is { } tls) o["tls"] = tls;
        if (V2RayLinkFields.Transport(link, note) is { } transport) o["transport"] = transport;
        switch (link.Query.GetValueOrDefault("packetEncoding"))
        {
            case null or "xudp":
                break; // sing-box's default
            case "" or "none":
                o["packet_encoding"] = "";
                break;
            case var other:
                throw V2RayLinkFields.Bad("vless", $"packetEncoding \"{other}\" is not supported (xudp, none)");
        }
        return o;
    }

    /// <summary>Why a flow other than Vision is refused: Xray's other flows are named, so the user knows what to change.</summary>
    public static string UnsupportedFlow(string flow) => flow.StartsWith(VlessOptionsParser.Vision, StringComparison.Ordinal)
        ? $"flow \"{flow}\" is Xray's variant of Vision; Sluice speaks \"{VlessOptionsParser.Vision}\" (as sing-box)"
        : $"flow \"{flow}\" is not supported (only \"{VlessOptionsParser.Vision}\"; the old xtls-rprx-direct/-splice flows were removed from Xray)";

    public static string Write(JsonObject outbound)
    {
        var query = new List<KeyValuePair<string, string>> { new("encryption", "none") };
        if ((string?)outbound["flow"] is { Length: > 0 } flow) query.Add(new("flow", flow));
        query.AddRange(V2RayLinkFields.Query(outbound));
        if ((string?)outbound["packet_encoding"] is "") query.Add(new("packetEncoding", "none"));
        return V2RayLinkFields.Render("vless", Uri.EscapeDataString((string)outbound["uuid"]!), outbound, query);
    }
}
