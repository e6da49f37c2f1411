using System.Text.Json.Nodes;

namespace Sluice.Core.Importing;

/// <summary>
/// trojan://password@host:port?security=tls&amp;sni=…&amp;type=ws&amp;path=…#name to a sing-box "trojan" outbound,
/// and back. TLS is on unless the link says security=none (Trojan is a TLS protocol).
/// </summary>
internal static class TrojanLink
{
    public static JsonObject Parse(string rest, string tag, Action<string>? note = null)
    {
        var link = V2RayLinkFields.Split("trojan", rest);
        string password = Uri.UnescapeDataString(link.UserInfo);
        if (password.Length == 0) throw V2RayLinkFields.Bad("trojan", "the password before '@' is empty");
        var o = new JsonObject { ["type"] = "trojan", ["tag"] = tag, ["server"] = link.Host, ["server_port"] = link.Port, ["password"] = password };
        if (V2RayLinkFields.Tls(link, defaultSecurity: "tls") is { } tls) o["tls"] = tls;
        if (V2RayLinkFields.Transport(link, note) is { } transport) o["transport"] = transport;
        return o;
    }

    public static string Write(JsonObject outbound) =>
        V2RayLinkFields.Render("trojan", Uri.EscapeDataString((string)outbound["password"]!), outbound, V2RayLinkFields.Query(outbound));
}
