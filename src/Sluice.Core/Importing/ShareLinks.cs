using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Sluice.Core.Outbounds.Shadowsocks;
using Sluice.Core.Outbounds.WireGuard;

namespace Sluice.Core.Importing;

/// <summary>
/// Share links to sing-box outbound objects:
/// <list type="bullet">
/// <item><c>ss://</c> SIP002 with plugins and the 2022 methods (see <see cref="ShadowsocksLink"/>);</item>
/// <item><c>socks5://[user:password@]host:port#name</c> (also <c>socks://</c>, whose userinfo v2rayN writes as
/// base64 of user:password) and <c>http(s)://[user:password@]host:port#name</c> (a link with no path: with one it
/// is a web address, not a proxy; https:// is an HTTPS proxy).</item>
/// <item><c>wireguard://</c> to a WireGuard endpoint (see <see cref="WireGuardLink"/>): the one link kind that is not an outbound.</item>
/// </list>
/// Errors are one line naming the part that is wrong.
/// </summary>
public static class ShareLinks
{
    public static bool IsLink(string line) =>
        line.StartsWith("ss://", StringComparison.OrdinalIgnoreCase) || line.StartsWith("socks5://", StringComparison.OrdinalIgnoreCase)
        || line.StartsWith("socks://", StringComparison.OrdinalIgnoreCase) || LinkSchemes.IsProxyLink(line) || IsHttpProxyLink(line);

    /// <summary>
    /// http(s)://[user:password@]host:port[/][#name] with an explicit port and no path or query: an HTTP proxy's
    /// link (https:// only with credentials). Anything longer (a path, a query) is a web address, e.g. a subscription URL.
    /// </summary>
    public static bool IsHttpProxyLink(string line)
    {
        string body;
        if (line.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) body = line[7..];
        else if (line.StartsWith("https://", StringComparison.OrdinalIgnoreCase)) body = line[8..];
        else return false;
        int hash = body.IndexOf('#');
        if (hash >= 0) body = body[..hash];
        if (body.EndsWith('/')) body = body[..^1];
        if (body.Length == 0 || body.IndexOfAny(['/', '?', ' ', '\t']) >= 0) return false;
        // https://host:port alone is as likely a provider's address as a proxy: only credentials make it a proxy link.
        if (line[4] is 's' or 'S' && !body.Contains('@')) return false;
        string hostPort = body[(body.LastIndexOf('@') + 1)..];
        int colon = hostPort.LastIndexOf(':');
        return colon > 0 && colon < hostPort.Length - 1 && hostPort[(colon + 1)..].All(char.IsAsciiDigit) && hostPort[colon - 1] != ':';
    }

    /// <summary>
    /// Parses one link; <paramref name="fallbackTag"/> names it when it carries no #name; <paramref name="note"/> hears
    /// what the link asked for that is imported in another form (the caller adds where).
    /// </summary>
    public static JsonObject Parse(string link, string fallbackTag, Action<string>? note = null)
    {
        link = link.Trim();
        int colon = link.IndexOf("://", StringComparison.Ordinal);
        if (colon < 0) throw Bad(link, "not a share link: no scheme (expected ss://, vless://, vmess://, trojan://, wireguard://, socks5:// or http(s)://)");
        string scheme = link[..colon].ToLowerInvariant();
        string rest = link[(colon + 3)..];
        string? name = null;
        int hash = rest.IndexOf('#');
        if (hash >= 0)
        {
            name = Uri.UnescapeDataString(rest[(hash + 1)..]).Trim();
            rest = rest[..hash];
        }
        string tag = string.IsNullOrEmpty(name) ? fallbackTag : name;
        return scheme switch
        {
            "ss" => ShadowsocksLink.Parse(link, rest, tag),
            "socks5" or "socks" => ParseCredentialsLink(link, rest, tag, "socks"),
            "http" => ParseCredentialsLink(link, rest, tag, "http"),
            "https" => WithTls(ParseCredentialsLink(link, rest, tag, "http")),
            "vless" => VlessLink.Parse(rest, tag, note),
            "vmess" => VmessLink.Parse(rest, string.IsNullOrEmpty(name) ? null : name, fallbackTag, note),
            "trojan" => TrojanLink.Parse(rest, tag, note),
            "wireguard" => WireGuardLink.Parse(rest, tag),
            _ => throw LinkSchemes.NotImported(scheme),
        };
    }

    /// <summary>An https:// proxy: TLS to the proxy, its certificate checked against the server's name.</summary>
    private static JsonObject WithTls(JsonObject outbound)
    {
        outbound["tls"] = new JsonObject { ["enabled"] = true };
        return outbound;
    }

    private static JsonObject ParseCredentialsLink(string link, string rest, string tag, string type)
    {
        rest = rest.TrimEnd('/');
        string? user = null, password = null;
        int at = rest.LastIndexOf('@');
        if (at >= 0)
        {
            string info = rest[..at];
            // v2rayN writes socks:// credentials as base64 of "user:password".
            if (!info.Contains(':') && DecodeBase64(Uri.UnescapeDataString(info)) is { } decoded && decoded.Contains(':'))
                info = Uri.EscapeDataString(decoded[..decoded.IndexOf(':')]) + ":" + Uri.EscapeDataString(decoded[(decoded.IndexOf(':') + 1)..]);
            int sep = info.IndexOf(':');
            if (sep < 0) throw Bad(link, "credentials before '@' are not user:password (nor base64 of it)");
            user = Uri.UnescapeDataString(info[..sep]);
            password = Uri.UnescapeDataString(info[(sep + 1)..]);
            rest = rest[(at + 1)..];
        }
        var (host, port) = ParseHostPort(link, rest);
        var o = new JsonObject { ["type"] = type, ["tag"] = tag, ["server"] = host, ["server_port"] = port };
        if (user is not null)
        {
            o["username"] = user;
            o["password"] = password;
        }
        return o;
    }

    internal static (string Host, int Port) ParseHostPort(string link, string hostPort)
    {
        int colon = hostPort.LastIndexOf(':');
        if (colon <= 0 || (hostPort.StartsWith('[') && hostPort[colon - 1] != ']'))
            throw Bad(link, $"\"{hostPort}\" is not host:port");
        string host = hostPort[..colon].Trim('[', ']');
        if (!int.TryParse(hostPort.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
            throw Bad(link, $"port \"{hostPort[(colon + 1)..]}\" is not a number in 1..65535");
        if (host.Length == 0 || (Uri.CheckHostName(host) == UriHostNameType.Unknown && !IPAddress.TryParse(host, out _)))
            throw Bad(link, $"host \"{host}\" is not a host name or address");
        return (host, port);
    }

    /// <summary>Standard or URL-safe base64, padding optional; null when it is not base64 of UTF-8 text.</summary>
    public static string? DecodeBase64(string text)
    {
        string s = text.Trim().Replace('-', '+').Replace('_', '/').Replace("\r", "").Replace("\n", "");
        s = s.PadRight(s.Length + (4 - s.Length % 4) % 4, '=');
        try
        {
            return new UTF8Encoding(false, true).GetString(Convert.FromBase64String(s));
        }
        catch (Exception e) when (e is FormatException or DecoderFallbackException)
        {
            return null;
        }
    }

    /// <summary>A one-line error naming the link (its userinfo, which holds the secret, elided) and the part that is wrong.</summary>
    internal static ImportException Bad(string link, string problem)
    {
        string shown = Redact(link);
        if (shown.Length > 60) shown = shown[..60] + "…";
        return new ImportException($"{shown}: {problem}");
    }

    /// <summary>
    /// The link without its secret: "scheme://…@host:port…" when it has userinfo; a legacy ss:// link
    /// whose whole body is base64 (userinfo included) keeps only its scheme and #name.
    /// </summary>
    internal static string Redact(string link)
    {
        int scheme = link.IndexOf("://", StringComparison.Ordinal);
        if (scheme < 0) return link.Length > 12 ? link[..12] + "…" : link;
        string head = link[..(scheme + 3)], rest = link[(scheme + 3)..];
        int hash = rest.IndexOf('#');
        string fragment = hash >= 0 ? rest[hash..] : "";
        string body = hash >= 0 ? rest[..hash] : rest;
        int at = body.LastIndexOf('@');
        if (at >= 0) return head + "…" + body[at..] + fragment;
        bool legacy = head.StartsWith("ss", StringComparison.OrdinalIgnoreCase) && !body.Contains(':');
        return legacy ? head + "…" + fragment : link;
    }

    /// <summary>"host:port" of an outbound object, IPv6 in brackets.</summary>
    internal static string HostPort(JsonObject o)
    {
        string host = (string)o["server"]!;
        return $"{(host.Contains(':') ? $"[{host}]" : host)}:{(int)o["server_port"]!}";
    }
}
