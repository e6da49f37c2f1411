namespace Sluice.Core.Sniffing;

/// <summary>
/// The Host of an HTTP/1.x request (RFC 9112 §3, RFC 9110 §7.2). Waits for more bytes until the Host
/// line is complete or the headers end, at most <see cref="MaxHeaders"/> bytes.
/// </summary>
internal static class HttpRequest
{
    public const int MaxHeaders = 8 * 1024;

    private static readonly byte[][] Methods =
        [.. new[] { "GET ", "POST ", "HEAD ", "PUT ", "DELETE ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE " }.Select(m => System.Text.Encoding.ASCII.GetBytes(m))];

    public static SniffResult Sniff(ReadOnlySpan<byte> data)
    {
        bool partialMethod = false, method = false;
        foreach (byte[] m in Methods)
        {
            if (data.StartsWith(m)) method = true;
            else if (data.Length < m.Length && m.AsSpan().StartsWith(data)) partialMethod = true;
        }
        if (!method) return partialMethod ? SniffResult.NeedMore : SniffResult.NotMatched;

        var window = data.Length > MaxHeaders ? data[..MaxHeaders] : data;
        int lineEnd = window.IndexOf("\r\n"u8);
        if (lineEnd < 0) return data.Length >= MaxHeaders ? SniffResult.NotMatched : SniffResult.NeedMore;
        var requestLine = window[..lineEnd];
        int version = requestLine.LastIndexOf((byte)' ');
        if (version < 0 || !requestLine[(version + 1)..].StartsWith("HTTP/1."u8)) return SniffResult.NotMatched;

        var rest = window[(lineEnd + 2)..];
        while (true)
        {
            int end = rest.IndexOf("\r\n"u8);
            if (end < 0) break;
            var line = rest[..end];
            if (line.IsEmpty) return new SniffResult(SniffStatus.Found, "http", null); // headers ended without Host
            if (line.Length > 5 && System.Text.Ascii.EqualsIgnoreCase(line[..5], "host:"u8))
                return new SniffResult(SniffStatus.Found, "http", HostWithoutPort(line[5..].Trim((byte)' ').Trim((byte)'\t')));
            rest = rest[(end + 2)..];
        }
        // Clearly HTTP, but no Host within the limit: found, without a domain.
        return data.Length >= MaxHeaders ? new SniffResult(SniffStatus.Found, "http", null) : SniffResult.NeedMore;
    }

    private static string? HostWithoutPort(ReadOnlySpan<byte> host)
    {
        if (host.StartsWith("["u8)) // [2001:db8::1]:8080
        {
            int close = host.IndexOf((byte)']');
            return close < 0 ? null : HostName.FromAscii(host[1..close]);
        }
        int colon = host.IndexOf((byte)':');
        return HostName.FromAscii(colon < 0 ? host : host[..colon]);
    }
}
