using System.Security.Cryptography;
using System.Text;

namespace Sluice.Core.Outbounds.Transport;

/// <summary>
/// The client's opening handshake (RFC 6455 §4.1): an HTTP/1.1 GET with Upgrade, and the check of the
/// server's 101 answer (its Sec-WebSocket-Accept must be SHA-1 of our key and the RFC's GUID).
/// Early data (V2Ray's 0-RTT) is base64url text in the path or in a named header.
/// </summary>
internal static class WebSocketHandshake
{
    private const string Guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    public static string NewKey() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));

    public static byte[] Request(WebSocketTransportOptions options, string host, string key, ReadOnlySpan<byte> earlyData)
    {
        string path = options.Path;
        string? early = earlyData.IsEmpty ? null : EarlyDataText(earlyData);
        if (early is not null && options.EarlyDataHeaderName is null)
        {
            int query = path.IndexOf('?');
            path = query < 0 ? path + early : path[..query] + early + path[query..];
        }
        var text = new StringBuilder(256 + (early?.Length ?? 0));
        text.Append("GET ").Append(path).Append(" HTTP/1.1\r\n");
        bool hasHost = options.Headers.Any(h => h.Key.Equals("Host", StringComparison.OrdinalIgnoreCase));
        if (!hasHost) text.Append("Host: ").Append(host).Append("\r\n");
        foreach (var (name, value) in options.Headers) text.Append(name).Append(": ").Append(value).Append("\r\n");
        text.Append("Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ").Append(key).Append("\r\n");
        if (early is not null && options.EarlyDataHeaderName is { } header) text.Append(header).Append(": ").Append(early).Append("\r\n");
        text.Append("\r\n");
        return Encoding.ASCII.GetBytes(text.ToString());
    }

    /// <summary>Null when the head is a valid 101 for <paramref name="key"/>; else what is wrong, for people.</summary>
    public static string? Check(ReadOnlySpan<byte> head, string key)
    {
        var lines = HttpHead.Lines(head);
        if (HttpHead.Status(lines) is not { } status)
            return "the server did not answer the WebSocket upgrade with HTTP (is it a WebSocket endpoint?)";
        if (status[1] != "101")
            return $"the server refused the WebSocket upgrade: HTTP {status[1]} {(status.Length > 2 ? status[2] : "")}".TrimEnd()
                + (status[1] is "404" or "400" ? " (check transport.path)" : "");
        string expected = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + Guid)));
        return HttpHead.Header(lines, "Sec-WebSocket-Accept") switch
        {
            null => "the server's 101 answer has no Sec-WebSocket-Accept",
            var accept when accept == expected => null,
            _ => "the server's Sec-WebSocket-Accept does not match our key",
        };
    }

    /// <summary>
    /// True when the 101's head carries <paramref name="header"/> with exactly <paramref name="value"/>: the server
    /// took the early data as a subprotocol (RFC 6455 §4.2.2: it echoes the one it selected).
    /// </summary>
    public static bool Echoes(ReadOnlySpan<byte> head, string header, string value)
    {
        foreach (var line in HttpHead.Lines(head).Skip(1))
        {
            int colon = line.IndexOf(':');
            if (colon > 0 && line[..colon].Trim().Equals(header, StringComparison.OrdinalIgnoreCase) && line[(colon + 1)..].Trim() == value) return true;
        }
        return false;
    }

    /// <summary>Early data as it goes in the path or header: base64url without padding.</summary>
    public static string EarlyDataText(ReadOnlySpan<byte> data) => Convert.ToBase64String(data).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
