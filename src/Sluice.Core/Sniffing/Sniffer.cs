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

/// <param name="Protocol">"tls", "http", "bittorrent", "ssh", "rdp" (TCP); "dns", "quic", "stun", "dtls", "ntp", "bittorrent" (UDP).</param>
/// <param name="Domain">The TLS or QUIC server name, or the HTTP Host without port.</param>
public readonly record struct SniffResult(SniffStatus Status, string? Protocol, string? Domain)
{
    public static SniffResult NeedMore => new(SniffStatus.NeedMore, null, null);

    public static SniffResult NotMatched => new(SniffStatus.NotMatched, null, null);
}

/// <summary>
/// Recognises the first bytes a client sends on a TCP stream (a TLS ClientHello with its server name, an HTTP/1.x
/// request with its Host, a BitTorrent or SSH handshake, an RDP connection request), or a flow's first UDP
/// datagram (DNS, QUIC Initial with its server name, STUN, DTLS, NTP, uTP/DHT). The input is untrusted: every
/// length is bounds-checked, nothing throws. Call the stream sniffer with all bytes received so far; the caller
/// gives up at its own limit or timeout.
/// </summary>
public static class Sniffer
{
    public static SniffResult Sniff(ReadOnlySpan<byte> firstPayload)
    {
        if (firstPayload.IsEmpty) return SniffResult.NeedMore;
        bool needMore = false;
        foreach (var result in (ReadOnlySpan<SniffResult>)[TlsClientHello.Sniff(firstPayload), HttpRequest.Sniff(firstPayload),
                     StreamProtocols.SniffBitTorrent(firstPayload), StreamProtocols.SniffSsh(firstPayload), StreamProtocols.SniffRdp(firstPayload)])
        {
            if (result.Status == SniffStatus.Found) return result;
            needMore |= result.Status == SniffStatus.NeedMore;
        }
        return needMore ? SniffResult.NeedMore : SniffResult.NotMatched;
    }

    /// <summary>The protocol of a UDP flow from its first datagram (one datagram: never NeedMore).</summary>
    public static SniffResult SniffDatagram(ReadOnlySpan<byte> payload)
    {
        if (payload.IsEmpty) return SniffResult.NotMatched;
        var quic = QuicInitial.Sniff(payload);
        if (quic.Status == SniffStatus.Found) return quic;
        string? protocol = LooksLikeDnsQuery(payload) ? "dns"
            : DatagramProtocols.IsStun(payload) ? "stun"
            : DatagramProtocols.IsDtlsClientHello(payload) ? "dtls"
            : DatagramProtocols.IsBitTorrent(payload) ? "bittorrent"
            : DatagramProtocols.IsNtp(payload) ? "ntp"
            : null;
        return protocol is null ? SniffResult.NotMatched : new SniffResult(SniffStatus.Found, protocol, null);
    }

    /// <summary>A DNS query header: QR=0, opcode QUERY, one or more questions, no answers.</summary>
    internal static bool LooksLikeDnsQuery(ReadOnlySpan<byte> payload) =>
        payload.Length >= 17
        && (payload[2] & 0xF8) == 0
        && System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(payload[4..]) >= 1
        && System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(payload[6..]) == 0;
}
