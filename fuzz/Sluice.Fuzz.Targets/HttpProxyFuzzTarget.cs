using Sluice.Core.Inbounds.Mixed;

namespace Sluice.Fuzz.Targets;

/// <summary>
/// The HTTP proxy inbound's readers over untrusted bytes: a client's request head (start line, fields, target,
/// body framing) or an origin's response head, then the bytes after it through the body framing in pieces whose
/// sizes come from the first byte. Only <see cref="HttpMessageException"/> may escape the parsers, and the framing
/// never claims more bytes than it was given.
/// </summary>
public static class HttpProxyFuzzTarget
{
    public static void Run(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return;
        int piece = data[0] % 13 + 1;
        data = data[1..];
        int end = data.IndexOf("\r\n\r\n"u8);
        var head = end < 0 ? data : data[..(end + 4)];
        var rest = end < 0 ? [] : data[(end + 4)..];
        HttpBodyFraming framing;
        try
        {
            var parsed = HttpHead.Parse(head);
            framing = parsed.Start[0].StartsWith("HTTP/", StringComparison.Ordinal)
                ? parsed.ResponseBody("GET", int.TryParse(parsed.Start[1], out int status) ? status : 200)
                : parsed.RequestBody();
            if (parsed.Start[0] == "CONNECT") HttpTarget.Authority(parsed.Start[1], 443);
            else if (!parsed.Start[0].StartsWith("HTTP/", StringComparison.Ordinal)) HttpTarget.Absolute(parsed.Start[1]);
            parsed.KeepsAlive(proxyConnection: true);
        }
        catch (HttpMessageException)
        {
            framing = HttpBodyFraming.Chunked(); // the rest still goes through the chunked decoder
        }
        try
        {
            while (!rest.IsEmpty && !framing.Done)
            {
                var chunk = rest[..Math.Min(piece, rest.Length)];
                int used = framing.Take(chunk);
                if (used < 0 || used > chunk.Length) throw new InvalidOperationException($"took {used} of {chunk.Length}");
                if (used < chunk.Length && !framing.Done) throw new InvalidOperationException("stopped early without being done");
                rest = rest[used..];
            }
        }
        catch (HttpMessageException)
        {
            // malformed chunked coding: refused, as documented
        }
    }
}
