using System.Globalization;
using System.Text;

namespace Sluice.Core.Inbounds.Mixed;

/// <summary>
/// The head of one HTTP/1.x message (RFC 9112 §2): its start line split in three (method, target, version for a
/// request; version, status, reason for a response) and its header fields in order, names matched without case.
/// Lines may end in CRLF or a bare LF (§2.2 lets a recipient take either); a field line folded onto the next
/// (obs-fold) or without a colon is an error naming the line.
/// </summary>
internal sealed class HttpHead
{
    private readonly List<(string Name, string Value)> _fields;

    private HttpHead(string[] start, List<(string Name, string Value)> fields)
    {
        Start = start;
        _fields = fields;
    }

    /// <summary>The start line's three parts (the third may hold spaces: a reason phrase).</summary>
    public string[] Start { get; }

    public IReadOnlyList<(string Name, string Value)> Fields => _fields;

    /// <summary>Parses a head (the bytes up to and including its empty line).</summary>
    /// <exception cref="HttpMessageException">The head is not HTTP/1.x.</exception>
    public static HttpHead Parse(ReadOnlySpan<byte> bytes)
    {
        var lines = Encoding.Latin1.GetString(bytes).Split('\n');
        string first = lines[0].TrimEnd('\r');
        var start = first.Split(' ', 3);
        if (start.Length < 2 || (!start[0].StartsWith("HTTP/1.", StringComparison.Ordinal) && (start.Length != 3 || !start[2].StartsWith("HTTP/1.", StringComparison.Ordinal))))
            throw new HttpMessageException($"not an HTTP/1.x start line: \"{Truncate(first)}\"");
        var fields = new List<(string, string)>();
        for (int i = 1; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd('\r');
            if (line.Length == 0) continue;
            int colon = line.IndexOf(':');
            if (line[0] is ' ' or '\t' || colon <= 0 || line.AsSpan(0, colon).ContainsAny(' ', '\t'))
                throw new HttpMessageException($"header line {i + 1} is not \"Name: value\": \"{Truncate(line)}\"");
            fields.Add((line[..colon], line[(colon + 1)..].Trim(' ', '\t')));
        }
        return new HttpHead(start.Length == 3 ? start : [start[0], start[1], ""], fields);
    }

    /// <summary>The first value of the field, or null.</summary>
    public string? Get(string name)
    {
        foreach (var (n, v) in _fields)
            if (n.Equals(name, StringComparison.OrdinalIgnoreCase)) return v;
        return null;
    }

    /// <summary>Whether a comma-separated field (Connection, Transfer-Encoding) lists the token, in any of its lines.</summary>
    public bool HasToken(string name, string token) => Tokens(name).Any(t => t.Equals(token, StringComparison.OrdinalIgnoreCase));

    private IEnumerable<string> Tokens(string name) =>
        _fields.Where(f => f.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
            .SelectMany(f => f.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>HTTP/1.0 (or a 1.x request line's version).</summary>
    private bool Http10 => (Start[0].StartsWith("HTTP/", StringComparison.Ordinal) ? Start[0] : Start[2]) == "HTTP/1.0";

    /// <summary>Whether the sender keeps the connection after this message (RFC 9112 §9.3): 1.1 unless "close", 1.0 only with "keep-alive".</summary>
    public bool KeepsAlive(bool proxyConnection = false) =>
        !HasToken("Connection", "close")
        && (!Http10 || HasToken("Connection", "keep-alive") || (proxyConnection && HasToken("Proxy-Connection", "keep-alive")));

    /// <summary>How a request's body is delimited (RFC 9112 §6.3): chunked, a length, or none.</summary>
    public HttpBodyFraming RequestBody()
    {
        var coding = Tokens("Transfer-Encoding").ToList();
        if (coding.Count > 0)
        {
            if (Get("Content-Length") is not null) throw new HttpMessageException("a request with both Transfer-Encoding and Content-Length (RFC 9112 §6.1)");
            if (!coding[^1].Equals("chunked", StringComparison.OrdinalIgnoreCase))
                throw new HttpMessageException($"a request body coded \"{string.Join(", ", coding)}\" without chunked last cannot be delimited");
            return HttpBodyFraming.Chunked();
        }
        return ContentLength() is { } length ? HttpBodyFraming.Length(length) : HttpBodyFraming.Length(0);
    }

    /// <summary>How a response to a <paramref name="method"/> request is delimited (RFC 9112 §6.3).</summary>
    public HttpBodyFraming ResponseBody(string method, int status)
    {
        if (method == "HEAD" || status is (>= 100 and < 200) or 204 or 304) return HttpBodyFraming.Length(0);
        var coding = Tokens("Transfer-Encoding").ToList();
        if (coding.Count > 0)
            return coding[^1].Equals("chunked", StringComparison.OrdinalIgnoreCase) ? HttpBodyFraming.Chunked() : HttpBodyFraming.UntilClose();
        return ContentLength() is { } length ? HttpBodyFraming.Length(length) : HttpBodyFraming.UntilClose();
    }

    private long? ContentLength()
    {
        long? length = null;
        foreach (var value in Tokens("Content-Length"))
        {
            if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long n))
                throw new HttpMessageException($"Content-Length \"{Truncate(value)}\" is not a number");
            if (length is { } other && other != n) throw new HttpMessageException($"two different Content-Length values ({other} and {n})");
            length = n;
        }
        return length;
    }

    /// <summary>
    /// This request as a proxy forwards it to the origin (RFC 9112 §3.2.1, §7.6.1): the target in origin form, Host set
    /// to the target's authority (§3.2.2: a proxy replaces it), the proxy's own fields (Proxy-Authorization,
    /// Proxy-Connection) removed.
    /// </summary>
    public byte[] ToOrigin(string originTarget, string host)
    {
        var text = new StringBuilder().Append(Start[0]).Append(' ').Append(originTarget).Append(' ').Append(Start[2]).Append("\r\n");
        text.Append("Host: ").Append(host).Append("\r\n");
        foreach (var (name, value) in _fields)
        {
            if (name.StartsWith("Proxy-", StringComparison.OrdinalIgnoreCase) || name.Equals("Host", StringComparison.OrdinalIgnoreCase)) continue;
            text.Append(name).Append(": ").Append(value).Append("\r\n");
        }
        return Encoding.Latin1.GetBytes(text.Append("\r\n").ToString());
    }

    internal static string Truncate(string s) => s.Length > 100 ? s[..100] + "…" : s;
}

/// <summary>An HTTP message that cannot be read or forwarded; the message says what is wrong with it.</summary>
internal sealed class HttpMessageException(string message) : Exception(message);
