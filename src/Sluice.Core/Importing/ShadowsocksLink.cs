using System.Text;
using System.Text.Json.Nodes;
using Sluice.Core.Outbounds.Shadowsocks;
using Sluice.Core.Outbounds.Shadowsocks.Plugins;
using Sluice.Core.Outbounds.WireGuard;

namespace Sluice.Core.Importing;

/// <summary>
/// <c>ss://</c> links (SIP002) both ways:
/// <list type="bullet">
/// <item>read: <c>ss://base64url(method:password)@host:port/?plugin=…#name</c>, the percent-encoded
/// <c>method:password</c> form the 2022 methods use, and the legacy <c>ss://base64(method:password@host:port)#name</c>;
/// <c>plugin=name;opts</c> becomes "plugin" and "plugin_opts" (obfs-local, v2ray-plugin);</item>
/// <item>write: base64url userinfo for the AEAD methods, percent-encoded for the 2022 ones (SIP002 says
/// so), the plugin as one percent-encoded query value.</item>
/// </list>
/// Errors name the part that is wrong and never show the password or the userinfo that holds it.
/// </summary>
internal static class ShadowsocksLink
{
    public static JsonObject Parse(string link, string rest, string tag)
    {
        string? query = null;
        int q = rest.IndexOf('?');
        if (q >= 0)
        {
            query = rest[(q + 1)..];
            rest = rest[..q];
        }
        rest = rest.TrimEnd('/');
        string userInfo, hostPort;
        int at = rest.LastIndexOf('@');
        if (at < 0)
        {
            // Legacy: the whole "method:password@host:port" is base64.
            string decoded = ShareLinks.DecodeBase64(rest) ?? throw ShareLinks.Bad(link, "the part after ss:// is neither userinfo@host:port nor base64");
            at = decoded.LastIndexOf('@');
            if (at < 0) throw ShareLinks.Bad(link, "the decoded base64 has no '@' between method:password and host:port");
            userInfo = decoded[..at];
            hostPort = decoded[(at + 1)..];
        }
        else
        {
            hostPort = rest[(at + 1)..];
            string raw = Uri.UnescapeDataString(rest[..at]);
            int colon = raw.IndexOf(':');
            userInfo = colon > 0 && ShadowsocksMethod.Find(raw[..colon].ToLowerInvariant()) is not null
                ? raw
                : ShareLinks.DecodeBase64(raw) ?? (colon > 0 ? raw : throw ShareLinks.Bad(link, "the userinfo is neither base64url of method:password nor method:password"));
        }
        int sep = userInfo.IndexOf(':');
        if (sep <= 0) throw ShareLinks.Bad(link, "the userinfo is not method:password");
        string method = userInfo[..sep].ToLowerInvariant(), password = userInfo[(sep + 1)..];
        var found = ShadowsocksMethod.Find(method)
            ?? throw ShareLinks.Bad(link, $"method \"{(method.Length > 40 ? method[..40] : method)}\" is not supported (supported: {string.Join(", ", ShadowsocksMethod.Supported)})");
        if (found.Is2022 && Shadowsocks2022Keys.Parse(found, password, out string? keyError) is null)
            throw ShareLinks.Bad(link, $"password: {keyError}");
        var (host, port) = ShareLinks.ParseHostPort(link, hostPort);
        var o = new JsonObject
        {
            ["type"] = "shadowsocks", ["tag"] = tag, ["server"] = host, ["server_port"] = port,
            ["method"] = method, ["password"] = password,
        };
        if (query is not null) ReadQuery(link, query, o);
        return o;
    }

    /// <summary>
    /// The query: plugin; Outline's prefix and UDP-over-TCP (uot, udp-over-tcp) change the bytes on the wire or how
    /// UDP travels, which Sluice cannot do, so they are refused rather than dropped; other keys (group, outline) are labels.
    /// </summary>
    private static void ReadQuery(string link, string query, JsonObject o)
    {
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] kv = pair.Split('=', 2);
            string key = Uri.UnescapeDataString(kv[0]);
            if (key == "prefix" && kv.Length > 1 && kv[1].Length > 0)
                throw ShareLinks.Bad(link, "prefix (Outline's salt prefix) is not supported by Sluice: its connections would not start with the bytes the provider chose");
            if (key is "uot" or "udp-over-tcp" && kv.ElementAtOrDefault(1) is not (null or "" or "0" or "false"))
                throw ShareLinks.Bad(link, $"{key} (UDP over TCP) is not supported by Sluice: UDP would go to the server's UDP port instead");
            if (key != "plugin") continue;
            string value = Uri.UnescapeDataString((kv.ElementAtOrDefault(1) ?? "").Replace('+', ' ')).Trim();
            if (value.Length == 0) continue;
            int semi = value.IndexOf(';');
            string name = semi < 0 ? value : value[..semi];
            string opts = semi < 0 ? "" : value[(semi + 1)..];
            if (ShadowsocksPluginParser.Parse(name, opts, out string? error, out _) is null)
                throw ShareLinks.Bad(link, $"plugin: {error}");
            o["plugin"] = name == "simple-obfs" ? "obfs-local" : name;
            if (opts.Length > 0) o["plugin_opts"] = opts;
        }
    }

    /// <summary>The link for a shadowsocks outbound object (as <see cref="Parse"/> or a config has it).</summary>
    public static string Write(JsonObject o)
    {
        string method = (string)o["method"]!, password = (string)o["password"]!;
        string userInfo = ShadowsocksMethod.Find(method) is { Is2022: true }
            ? $"{Uri.EscapeDataString(method)}:{Uri.EscapeDataString(password)}"
            : Convert.ToBase64String(Encoding.UTF8.GetBytes($"{method}:{password}")).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var link = new StringBuilder("ss://").Append(userInfo).Append('@').Append(ShareLinks.HostPort(o)).Append('/');
        if (o["plugin"] is JsonValue plugin && (string?)plugin is { Length: > 0 } name)
        {
            string opts = (string?)o["plugin_opts"] ?? "";
            link.Append("?plugin=").Append(Uri.EscapeDataString(opts.Length > 0 ? $"{name};{opts}" : name));
        }
        return link.Append('#').Append(Uri.EscapeDataString((string)o["tag"]!)).ToString();
    }
}
