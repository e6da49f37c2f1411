namespace Sluice.Core.Sniffing;

/// <summary>
/// Fuzz entry points, one per sniffer (fuzz/Sluice.Fuzz registers them as sniff-*): any input must return a
/// result without throwing or reading outside the span. Unit tests run them over truncated captures.
/// </summary>
public static class SnifferFuzzTargets
{
    public static void BitTorrent(ReadOnlySpan<byte> data)
    {
        if (!data.IsEmpty) StreamProtocols.SniffBitTorrent(data);
        DatagramProtocols.IsBitTorrent(data);
    }

    public static void Ssh(ReadOnlySpan<byte> data)
    {
        if (!data.IsEmpty) StreamProtocols.SniffSsh(data);
    }

    public static void Rdp(ReadOnlySpan<byte> data)
    {
        if (!data.IsEmpty) StreamProtocols.SniffRdp(data);
    }

    public static void Stun(ReadOnlySpan<byte> data) => DatagramProtocols.IsStun(data);

    public static void Dtls(ReadOnlySpan<byte> data) => DatagramProtocols.IsDtlsClientHello(data);

    public static void Ntp(ReadOnlySpan<byte> data) => DatagramProtocols.IsNtp(data);

    public static void Quic(ReadOnlySpan<byte> data) => QuicInitial.Sniff(data);

    /// <summary>Everything a TCP flow's first bytes or a UDP flow's first datagram go through.</summary>
    public static void All(ReadOnlySpan<byte> data)
    {
        Sniffer.Sniff(data);
        Sniffer.SniffDatagram(data);
    }
}
