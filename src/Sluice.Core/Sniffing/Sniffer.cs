namespace Sluice.Core.Sniffing;

public enum SniffStatus
{
    /// <summary>The protocol was recognised; <see cref="SniffResult.Domain"/> may still be null (no SNI, no Host).</summary>
    Found,

    /// <summary>The bytes so far are a plausible start of a known protocol: read more and call again.</summary>
    NeedMore,

    /// <summary>Not a protocol the sniffer knows.</summary>
    NotMatched,
}

/// <param name="Protocol">"tls" or "http" when found.</param>
/// <param name="Domain">The TLS server name or the HTTP Host without port.</param>
public readonly record struct SniffResult(SniffStatus Status, string? Protocol, string? Domain)
{
    public static SniffResult NeedMore => new(SniffStatus.NeedMore, null, null);

    public static SniffResult NotMatched => new(SniffStatus.NotMatched, null, null);
}

/// <summary>
/// Recognises the first bytes a client sends on a TCP stream: a TLS ClientHello (server name) or an
/// HTTP/1.x request (Host). The input is untrusted: every length is bounds-checked, nothing throws.
/// Call with all bytes received so far; the caller gives up at its own limit or timeout.
/// </summary>
public static class Sniffer
{
    public static SniffResult Sniff(ReadOnlySpan<byte> firstPayload)
    {
        if (firstPayload.IsEmpty) return SniffResult.NeedMore;
        var tls = TlsClientHello.Sniff(firstPayload);
        if (tls.Status != SniffStatus.NotMatched) return tls;
        return HttpRequest.Sniff(firstPayload);
    }
}
