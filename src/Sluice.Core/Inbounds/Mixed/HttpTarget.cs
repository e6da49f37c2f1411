using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Sluice.Core.Outbounds;

namespace Sluice.Core.Inbounds.Mixed;

/// <summary>
/// Where an HTTP proxy request goes (RFC 9112 §3.2): CONNECT's authority (host:port, [v6]:port), or an absolute
/// http:// URL's authority and its path and query as the origin is sent them. Errors say what is wrong with the
/// target as the client sent it.
/// </summary>
internal readonly record struct HttpTarget(Destination Destination, string Host, string Path)
{
    /// <summary>An absolute-form target: "http://host[:port][/path][?query]" (a userinfo and a fragment are dropped).</summary>
    /// <exception cref="HttpMessageException">Not an http:// URL, or a bad host or port.</exception>
    public static HttpTarget Absolute(string target)
    {
        int scheme = target.IndexOf("://", StringComparison.Ordinal);
        if (scheme < 0)
            throw new HttpMessageException($"a proxy request needs an absolute http:// URL, not \"{HttpHead.Truncate(target)}\"");
        if (!target.AsSpan(0, scheme).Equals("http", StringComparison.OrdinalIgnoreCase))
            throw new HttpMessageException($"only http:// URLs are forwarded (a client tunnels https:// with CONNECT), not \"{HttpHead.Truncate(target)}\"");
        string rest = target[(scheme + 3)..];
        int end = rest.IndexOfAny(['/', '?', '#']);
        string authority = end < 0 ? rest : rest[..end];
        string path = end < 0 ? "" : rest[end..];
        if (path.IndexOf('#') is >= 0 and var fragment) path = path[..fragment];
        if (!path.StartsWith('/')) path = "/" + path;
        if (authority.LastIndexOf('@') is >= 0 and var at) authority = authority[(at + 1)..];
        return new HttpTarget(Authority(authority, defaultPort: 80), authority, path);
    }

    /// <summary>host:port, [v6]:port or a bare host (then <paramref name="defaultPort"/>); an IP literal becomes an address, anything else a name.</summary>
    /// <exception cref="HttpMessageException">No host, a host that is not a name or an address, or a port outside 1–65535.</exception>
    public static Destination Authority(string authority, ushort defaultPort)
    {
        string host = authority;
        ushort port = defaultPort;
        int close = authority.StartsWith('[') ? authority.IndexOf(']') : -1;
        if (authority.StartsWith('[') && close < 0) throw new HttpMessageException($"\"{HttpHead.Truncate(authority)}\" opens an IPv6 literal with [ and does not close it");
        int colon = close >= 0 ? (close + 1 < authority.Length && authority[close + 1] == ':' ? close + 1 : -1) : authority.LastIndexOf(':');
        if (close >= 0 && colon < 0 && close + 1 < authority.Length) throw new HttpMessageException($"\"{HttpHead.Truncate(authority)}\" has text after its IPv6 literal that is not :port");
        // An unbracketed IPv6 literal (CONNECT ::1:443 is ambiguous) is not split: it has more than one colon.
        if (close < 0 && authority.IndexOf(':') != colon) colon = -1;
        if (colon >= 0)
        {
            var text = authority.AsSpan(colon + 1);
            if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int number) || number is < 1 or > 65535)
                throw new HttpMessageException($"port \"{HttpHead.Truncate(text.ToString())}\" in \"{HttpHead.Truncate(authority)}\" is not a port (1-65535)");
            port = (ushort)number;
            host = authority[..colon];
        }
        if (close >= 0)
        {
            host = host[1..host.IndexOf(']')];
            if (!IPAddress.TryParse(host, out var literal) || literal.AddressFamily != AddressFamily.InterNetworkV6)
                throw new HttpMessageException($"\"[{HttpHead.Truncate(host)}]\" is not an IPv6 address");
            return Destination.Named(host, port);
        }
        if (host.Length == 0) throw new HttpMessageException($"no host in \"{HttpHead.Truncate(authority)}\"");
        if (host.Contains(':')) return IPAddress.TryParse(host, out _) ? Destination.Named(host, port)
            : throw new HttpMessageException($"\"{HttpHead.Truncate(host)}\" is not a host name or an address");
        foreach (char c in host)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '.' or '_'))
                throw new HttpMessageException($"\"{HttpHead.Truncate(host)}\" is not a host name or an address (character '{c}')");
        }
        return Destination.Named(host.ToLowerInvariant(), port);
    }
}
