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
/// <item><c>ss://</c> SIP002 (<c>ss://base64url(method:password)@host:port/?plugin=…#name</c>, or a
/// percent-encoded <c>method:password</c>) and the legacy form <c>ss://base64(method:password@host:port)#name</c>;
/// plugins are refused, since Sluice runs no SIP003 plugin;</item>
/// <item><c>socks5://[user:password@]host:port#name</c> and <c>http://user:password@host:port#name</c>.</item>
/// </list>
/// Errors are one line naming the part that is wrong.
/// </summary>
public static class ShareLinks
{
    public static bool IsLink(string line) =>
        line.StartsWith("ss://", StringComparison.OrdinalIgnoreCase) || line.StartsWith("socks5://", StringComparison.OrdinalIgnoreCase)
        || line.StartsWith("socks://", StringComparison.OrdinalIgnoreCase);

    /// <summary>Parses one link; <paramref name="fallbackTag"/> names it when it carries no #name.</summary>
    public static JsonObject Parse(string link, string fallbackTag)
    {
        link = link.Trim();
        int colon = link.IndexOf("://", StringComparison.Ordinal);
        if (colon < 0) throw Bad(link, "no scheme (expected ss:// or socks5://)");
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
            "ss" => ParseShadowsocks(link, rest, tag),
            "socks5" or "socks" => ParseCredentialsLink(link, rest, tag, "socks"),
            _ => throw Bad(link, $"scheme \"{scheme}\" is not imported (supported: ss, socks5)"),
        };
    }

    private static JsonObject ParseShadowsocks(string link, string rest, string tag)
    {
        string? query = null;
        int q = rest.IndexOf('?');
        if (q >= 0)
        {
            query = rest[(q + 1)..];
            rest = rest[..q];
        }
        rest = rest.TrimEnd('/');
        if (query is not null)
        {
            foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                string key = Uri.UnescapeDataString(pair.Split('=', 2)[0]);
                if (key == "plugin")
                    throw Bad(link, $"plugin \"{Uri.UnescapeDataString(pair.Split('=', 2).ElementAtOrDefault(1) ?? "")}\": SIP003 plugins are not supported by Sluice");
            }
        }
        string userInfo, hostPort;
        int at = rest.LastIndexOf('@');
        if (at < 0)
        {
            // Legacy: the whole "method:password@host:port" is base64.
            string decoded = DecodeBase64(rest) ?? throw Bad(link, "the part after ss:// is neither userinfo@host:port nor base64");
            at = decoded.LastIndexOf('@');
            if (at < 0) throw Bad(link, "the decoded base64 has no '@' between method:password and host:port");
            userInfo = decoded[..at];
            hostPort = decoded[(at + 1)..];
        }
        else
        {
            string raw = rest[..at];
            hostPort = rest[(at + 1)..];
            userInfo = raw.Contains(':') ? Uri.UnescapeDataString(raw) : DecodeBase64(Uri.UnescapeDataString(raw))
                ?? throw Bad(link, $"userinfo \"{raw}\" is not base64url of method:password");
        }
        int sep = userInfo.IndexOf(':');
        if (sep <= 0) throw Bad(link, "userinfo is not method:password");
        string method = userInfo[..sep].ToLowerInvariant(), password = userInfo[(sep + 1)..];
        if (ShadowsocksMethod.Find(method) is null)
            throw Bad(link, $"method \"{method}\" is not supported (supported: {string.Join(", ", ShadowsocksMethod.Supported)})");
        var (host, port) = ParseHostPort(link, hostPort);
        return new JsonObject
        {
            ["type"] = "shadowsocks", ["tag"] = tag, ["server"] = host, ["server_port"] = port,
            ["method"] = method, ["password"] = password,
        };
    }

    private static JsonObject ParseCredentialsLink(string link, string rest, string tag, string type)
    {
        rest = rest.TrimEnd('/');
        string? user = null, password = null;
        int at = rest.LastIndexOf('@');
        if (at >= 0)
        {
            string info = rest[..at];
            int sep = info.IndexOf(':');
            if (sep < 0) throw Bad(link, "credentials before '@' are not user:password");
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

    private static (string Host, int Port) ParseHostPort(string link, string hostPort)
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

    /// <summary>A one-line error naming the link (passwords elided) and the part that is wrong.</summary>
    private static ImportException Bad(string link, string problem)
    {
        string redacted = Monitoring.RedactedText.Of(link);
        string shown = redacted.Length > 60 ? redacted[..60] + "…" : redacted;
        return new ImportException($"{shown}: {problem}");
    }
}
