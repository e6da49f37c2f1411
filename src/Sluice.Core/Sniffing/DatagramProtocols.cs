using System.Buffers.Binary;

namespace Sluice.Core.Sniffing;

/// <summary>
/// UDP protocols recognised from a flow's first datagram (no domain in any of them):
/// 1. stun: RFC 5389/8489 (magic cookie 0x2112A442) and classic RFC 3489 Binding Requests (no cookie, so also
///    every attribute must be well formed and known to RFC 3489): a 20-byte header, length = body, multiple of 4;
/// 2. dtls: a handshake record (type 22) of DTLS 1.0/1.2 (0xFEFF/0xFEFD) in epoch 0 holding a ClientHello (RFC 6347 §4.1);
/// 3. ntp: a 48-byte-or-longer NTPv1–4 client (mode 3) or symmetric-active (mode 1) packet (RFC 5905 §7.3);
/// 4. bittorrent: a uTP packet (BEP 29: version 1, type ST_DATA..ST_SYN, extension chain in bounds) or a DHT
///    KRPC message (BEP 5: a bencoded dictionary with "1:y" of q, r or e and a transaction id "1:t").
/// </summary>
internal static class DatagramProtocols
{
    private const uint StunMagicCookie = 0x2112A442;

    public static bool IsStun(ReadOnlySpan<byte> d)
    {
        if (d.Length < 20 || (d[0] & 0xC0) != 0) return false;
        int length = BinaryPrimitives.ReadUInt16BigEndian(d[2..]);
        if (length != d.Length - 20 || (length & 3) != 0) return false;
        if (BinaryPrimitives.ReadUInt32BigEndian(d[4..]) == StunMagicCookie) return true;
        // RFC 3489: only a Binding Request (0x0001) or Shared Secret Request (0x0002) opens a flow.
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(d);
        if (type is not (0x0001 or 0x0002)) return false;
        var attributes = d[20..];
        while (!attributes.IsEmpty)
        {
            if (attributes.Length < 4) return false;
            ushort attribute = BinaryPrimitives.ReadUInt16BigEndian(attributes);
            int size = BinaryPrimitives.ReadUInt16BigEndian(attributes[2..]);
            if (attribute is 0 or > 0x000B || size > attributes.Length - 4) return false;
            attributes = attributes[(4 + size)..];
        }
        return true;
    }

    public static bool IsDtlsClientHello(ReadOnlySpan<byte> d)
    {
        // Record: type(1) version(2) epoch(2) sequence(6) length(2); then handshake: type(1) length(3) ...
        if (d.Length < 13 + 12 || d[0] != 22 || d[1] != 0xFE || d[2] is not (0xFF or 0xFD)) return false;
        if (BinaryPrimitives.ReadUInt16BigEndian(d[3..]) != 0) return false;
        int length = BinaryPrimitives.ReadUInt16BigEndian(d[11..]);
        if (length < 12 || length > d.Length - 13) return false;
        return d[13] == 1;
    }

    public static bool IsNtp(ReadOnlySpan<byte> d)
    {
        if (d.Length < 48) return false;
        int version = (d[0] >> 3) & 7, mode = d[0] & 7;
        int stratum = d[1], poll = (sbyte)d[2];
        return version is >= 1 and <= 4 && mode is 3 or 1 && stratum <= 16 && poll is >= 0 and <= 17;
    }

    public static bool IsBitTorrent(ReadOnlySpan<byte> d) => IsUtp(d) || IsDht(d);

    private static bool IsUtp(ReadOnlySpan<byte> d)
    {
        // Header: type(4 bits) version(4 bits), extension(1), connection_id(2), timestamp(4), timestamp_diff(4),
        // wnd_size(4), seq_nr(2), ack_nr(2) = 20 bytes; extensions: next(1) length(1) body.
        if (d.Length < 20 || (d[0] & 0x0F) != 1 || (d[0] >> 4) > 4) return false;
        int next = d[1], offset = 20;
        for (int hops = 0; next != 0; hops++)
        {
            if (hops > 8 || next > 4 || d.Length - offset < 2) return false;
            next = d[offset];
            offset += 2 + d[offset + 1];
            if (offset > d.Length) return false;
        }
        // A SYN carries no payload; the first packet of a flow is a SYN (type 4).
        return (d[0] >> 4) != 4 || offset == d.Length;
    }

    private static bool IsDht(ReadOnlySpan<byte> d)
    {
        if (d.Length < 12 || d[0] != (byte)'d' || d[^1] != (byte)'e') return false;
        bool kind = d.IndexOf("1:y1:q"u8) >= 0 || d.IndexOf("1:y1:r"u8) >= 0 || d.IndexOf("1:y1:e"u8) >= 0;
        return kind && d.IndexOf("1:t"u8) >= 0;
    }
}
