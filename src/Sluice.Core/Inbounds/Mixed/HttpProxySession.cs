using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Sluice.Core.Outbounds;
using Sluice.Packets;

namespace Sluice.Core.Inbounds.Mixed;

/// <summary>
/// The server side of one HTTP proxy connection: CONNECT host:port is tunnelled; a plain request in
/// absolute form (GET http://host/path) is forwarded in origin form with the Proxy-* headers removed,
/// then the connection is relayed as is (later requests on it go to the same origin, which RFC 9112
/// §3.2.2 requires servers to accept in absolute form too).
/// </summary>
internal sealed class HttpProxySession(MixedInbound inbound, Socket client)
{
    private const int MaxHead = 64 * 1024;

    /// <param name="received">What the inbound already read from the client.</param>
    public async Task RunAsync(ReadOnlyMemory<byte> received)
    {
        var token = inbound.Stopping;
        byte[] buffer = new byte[MaxHead];
        received.CopyTo(buffer);
        int have = received.Length, headEnd;
        while ((headEnd = buffer.AsSpan(0, have).IndexOf("\r\n\r\n"u8)) < 0)
        {
            if (have == buffer.Length) throw new ProxyProtocolException($"request head longer than {MaxHead} bytes");
            int n = await client.ReceiveAsync(buffer.AsMemory(have), SocketFlags.None, token);
            if (n == 0) return;
            have += n;
        }
        int headLength = headEnd + 4;
        string head = Encoding.Latin1.GetString(buffer, 0, headEnd);
        var lines = head.Split("\r\n");
        var requestLine = lines[0].Split(' ');
        if (requestLine.Length != 3 || !requestLine[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
        {
            await SendAsync("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            throw new ProxyProtocolException($"not an HTTP/1.x request line: \"{Truncate(lines[0])}\"");
        }
        if (inbound.Users.Count > 0 && !Authorized(lines))
        {
            await SendAsync("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"sluice\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            return;
        }
        string method = requestLine[0], target = requestLine[1], version = requestLine[2];
        ReadOnlyMemory<byte> firstUp;
        Destination destination;
        if (method == "CONNECT")
        {
            destination = ParseAuthority(target, defaultPort: 443);
            firstUp = buffer.AsMemory(headLength, have - headLength);
        }
        else
        {
            if (!Uri.TryCreate(target, UriKind.Absolute, out var uri) || uri.Scheme != "http")
            {
                await SendAsync("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                throw new ProxyProtocolException($"a proxy request needs an absolute http:// URL, not \"{Truncate(target)}\"");
            }
            destination = ParseAuthority(uri.IsDefaultPort ? uri.Host + ":80" : uri.Authority, defaultPort: 80);
            var rewritten = new StringBuilder().Append(method).Append(' ').Append(uri.PathAndQuery).Append(' ').Append(version).Append("\r\n");
            foreach (var line in lines.Skip(1))
            {
                if (line.StartsWith("Proxy-", StringComparison.OrdinalIgnoreCase)) continue;
                rewritten.Append(line).Append("\r\n");
            }
            rewritten.Append("\r\n");
            byte[] headBytes = Encoding.Latin1.GetBytes(rewritten.ToString());
            byte[] combined = new byte[headBytes.Length + have - headLength];
            headBytes.CopyTo(combined, 0);
            buffer.AsSpan(headLength, have - headLength).CopyTo(combined.AsSpan(headBytes.Length));
            firstUp = combined;
        }

        var route = await inbound.RouteAsync(client, IpProtocol.Tcp, destination);
        if (route is null)
        {
            await SendAsync("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            return;
        }
        var remote = await inbound.DialAsync(route.Outbound, route.Flow.Dialled(destination));
        if (remote is null)
        {
            await SendAsync("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            return;
        }
        await using (remote)
        {
            if (method == "CONNECT") await SendAsync("HTTP/1.1 200 Connection established\r\n\r\n");
            await inbound.RelayAsync(client, route, remote, firstUp);
        }
    }

    private bool Authorized(string[] lines)
    {
        foreach (var line in lines.Skip(1))
        {
            if (!line.StartsWith("Proxy-Authorization:", StringComparison.OrdinalIgnoreCase)) continue;
            var value = line["Proxy-Authorization:".Length..].Trim();
            if (!value.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase)) return false;
            string decoded;
            try
            {
                decoded = Encoding.UTF8.GetString(Convert.FromBase64String(value[6..].Trim()));
            }
            catch (FormatException)
            {
                return false;
            }
            int colon = decoded.IndexOf(':');
            if (colon < 0) return false;
            byte[] user = Encoding.UTF8.GetBytes(decoded[..colon]), password = Encoding.UTF8.GetBytes(decoded[(colon + 1)..]);
            return inbound.Users.Any(u => CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(u.Username), user)
                & CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(u.Password), password));
        }
        return false;
    }

    /// <summary>host:port, [v6]:port or a bare host; an IP literal becomes an address, anything else a name.</summary>
    internal static Destination ParseAuthority(string authority, ushort defaultPort)
    {
        string host = authority;
        ushort port = defaultPort;
        int colon = authority.LastIndexOf(':');
        if (colon > 0 && (authority[0] != '[' || authority[colon - 1] == ']'))
        {
            if (!ushort.TryParse(authority.AsSpan(colon + 1), out port) || port == 0)
                throw new ProxyProtocolException($"bad port in \"{Truncate(authority)}\"");
            host = authority[..colon];
        }
        host = host.Trim('[', ']');
        if (host.Length == 0) throw new ProxyProtocolException($"no host in \"{Truncate(authority)}\"");
        return Destination.Named(host, port);
    }

    private async Task SendAsync(string text) =>
        await client.SendAsync(Encoding.ASCII.GetBytes(text), SocketFlags.None, inbound.Stopping);

    private static string Truncate(string s) => s.Length > 100 ? s[..100] + "…" : s;
}
