using System.Text;

namespace Sluice.Core.Outbounds.Transport;

/// <summary>
/// The HTTP/1.1 heads of the transports that open with one request and one answer and then carry the stream as it is:
/// "httpupgrade" (GET with Upgrade: websocket, answered 101; as sing-box and V2Ray's httpupgrade) and the "http"
/// transport without TLS (sing-box's plain form: the method and path of the transport, answered 200). The answer's head
/// (its end, status line and fields) is read here for the WebSocket handshake too.
/// </summary>
internal static class HttpHead
{
    /// <summary>The answer's head is read up to this many bytes; a longer one is refused.</summary>
    public const int MaxResponseHead = 8 * 1024;

    public static byte[] UpgradeRequest(HttpUpgradeTransportOptions options, string host)
    {
        var text = new StringBuilder(256);
        text.Append("GET ").Append(options.Path).Append(" HTTP/1.1\r\nHost: ").Append(options.Host ?? host).Append("\r\n");
        foreach (var (name, value) in options.Headers)
        {
            // Host is the transport's "host"; Connection and Upgrade are the upgrade's own (sing-box overrides them too).
            if (name.Equals("Host", StringComparison.OrdinalIgnoreCase) || name.Equals("Connection", StringComparison.OrdinalIgnoreCase)
                || name.Equals("Upgrade", StringComparison.OrdinalIgnoreCase)) continue;
            text.Append(name).Append(": ").Append(value).Append("\r\n");
        }
        text.Append("Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
        return Encoding.ASCII.GetBytes(text.ToString());
    }

    /// <summary>The plain "http" request head: no body length but Content-Length: 0 where Go's client writes it (PUT, POST, PATCH).</summary>
    public static byte[] PlainRequest(HttpTransportOptions options, string host)
    {
        var text = new StringBuilder(256);
        text.Append(options.Method).Append(' ').Append(options.Path).Append(" HTTP/1.1\r\nHost: ").Append(host).Append("\r\n");
        foreach (var (name, value) in options.Headers)
        {
            if (!name.Equals("Host", StringComparison.OrdinalIgnoreCase)) text.Append(name).Append(": ").Append(value).Append("\r\n");
        }
        if (options.Method is "PUT" or "POST" or "PATCH") text.Append("Content-Length: 0\r\n");
        text.Append("\r\n");
        return Encoding.ASCII.GetBytes(text.ToString());
    }

    /// <summary>Where the head of the answer ends (after the blank line), or −1 when it has not all arrived.</summary>
    public static int HeadLength(ReadOnlySpan<byte> data)
    {
        int end = data.IndexOf("\r\n\r\n"u8);
        return end < 0 ? -1 : end + 4;
    }

    /// <summary>
    /// Null when <paramref name="head"/> is the answer the transport expects: for an upgrade, 101 with
    /// "Connection: upgrade" and "Upgrade: websocket" (as sing-box checks); else 200. Otherwise what is wrong, for people.
    /// </summary>
    public static string? Check(ReadOnlySpan<byte> head, bool upgrade)
    {
        var lines = Lines(head);
        var status = Status(lines);
        string what = upgrade ? "the HTTP upgrade" : "the HTTP request";
        if (status is null || status[1].Length != 3 || !status[1].All(char.IsAsciiDigit))
            return $"the server did not answer {what} with HTTP/1.1";
        string expected = upgrade ? "101" : "200";
        if (status[1] != expected)
        {
            string answer = $"HTTP {status[1]} {(status.Length > 2 ? status[2] : "")}".TrimEnd();
            return $"the server answered {what} with {answer}, not {expected}" + (status[1] is "404" or "400" ? " (check transport.path and transport.host)" : "");
        }
        if (!upgrade) return null;
        string? connection = Header(lines, "Connection"), upgradeTo = Header(lines, "Upgrade");
        if (!string.Equals(connection, "upgrade", StringComparison.OrdinalIgnoreCase) || !string.Equals(upgradeTo, "websocket", StringComparison.OrdinalIgnoreCase))
            return $"the server's 101 answer does not say \"Connection: upgrade\" and \"Upgrade: websocket\" (it says {connection ?? "no Connection"}, {upgradeTo ?? "no Upgrade"})";
        return null;
    }

    /// <summary>The head's lines (Latin-1: field values are octets).</summary>
    public static string[] Lines(ReadOnlySpan<byte> head) => Encoding.Latin1.GetString(head).Split("\r\n");

    /// <summary>The status line's version, code and reason ("HTTP/1.x", "101", …); null when it is not an HTTP/1 status line.</summary>
    public static string[]? Status(string[] lines)
    {
        var status = lines[0].Split(' ', 3);
        return status.Length >= 2 && status[0].StartsWith("HTTP/1.", StringComparison.Ordinal) ? status : null;
    }

    /// <summary>The first field named <paramref name="name"/> (any case), trimmed; null when there is none.</summary>
    public static string? Header(string[] lines, string name)
    {
        foreach (var line in lines.AsSpan(1))
        {
            int colon = line.IndexOf(':');
            if (colon > 0 && line.AsSpan(0, colon).Trim().Equals(name, StringComparison.OrdinalIgnoreCase)) return line[(colon + 1)..].Trim();
        }
        return null;
    }
}
