using System.Buffers.Binary;
using Sluice.Packets;

namespace Sluice.Platform.Linux;

/// <summary>
/// Software TSO for what the kernel hands a TUN with TUN_F_TSO4/6: a TCP "super-packet" of one header and
/// up to 64 KiB of payload is cut into segments of the GSO size, each a packet of its own as the wire
/// would carry it (RFC 9293 §3.1 fields, RFC 791 / RFC 8200 lengths):
/// 1. the IP and TCP headers are copied; IPv4 total length / IPv6 payload length fit the segment;
/// 2. the IPv4 identification counts up from the super-packet's, one per segment (as Linux's GSO does);
/// 3. the sequence number advances by the GSO size per segment; FIN and PSH stay on the last segment
///    only, CWR on the first only;
/// 4. the IPv4 header checksum and the TCP checksum are computed in full.
/// Also completes a NEEDS_CSUM packet's partial checksum. Pure functions over spans.
/// </summary>
internal static class TcpSegmenter
{
    private const byte TcpFinPsh = (byte)(TcpFlags.Fin | TcpFlags.Psh);

    /// <summary>
    /// The headers of a TSO super-packet: IPv4 (not a fragment) or IPv6 with TCP right after the fixed
    /// header; false for anything else, or when the GSO size is 0.
    /// </summary>
    public static bool TryMeasure(ReadOnlySpan<byte> packet, int gsoSize, out int ipHeaderLength, out int headerLength, out int segments)
    {
        ipHeaderLength = headerLength = segments = 0;
        if (gsoSize <= 0 || packet.Length < 20) return false;
        switch (packet[0] >> 4)
        {
            case 4:
                ipHeaderLength = (packet[0] & 0x0F) * 4;
                if (ipHeaderLength < 20 || packet[9] != IpProtocol.Tcp) return false;
                if ((BinaryPrimitives.ReadUInt16BigEndian(packet[6..]) & 0x3FFF) != 0) return false; // MF or an offset
                break;
            case 6:
                ipHeaderLength = 40;
                if (packet.Length < 40 || packet[6] != IpProtocol.Tcp) return false;
                break;
            default:
                return false;
        }
        if (packet.Length < ipHeaderLength + TcpSegment.MinHeaderLength) return false;
        headerLength = ipHeaderLength + (packet[ipHeaderLength + 12] >> 4) * 4;
        if (headerLength < ipHeaderLength + TcpSegment.MinHeaderLength || headerLength >= packet.Length) return false;
        segments = (packet.Length - headerLength + gsoSize - 1) / gsoSize;
        return true;
    }

    /// <summary>
    /// Writes segment <paramref name="index"/> of <paramref name="segments"/> of the super-packet into
    /// <paramref name="destination"/> and returns its length. Segment 0 may be written over the
    /// super-packet itself, provided it is written last (the others read the original headers).
    /// </summary>
    public static int WriteSegment(ReadOnlySpan<byte> super, int ipHeaderLength, int headerLength, int gsoSize, int index, int segments, Span<byte> destination)
    {
        int payloadStart = headerLength + index * gsoSize;
        int payloadLength = Math.Min(gsoSize, super.Length - payloadStart);
        int length = headerLength + payloadLength;
        bool v4 = super[0] >> 4 == 4;
        ushort id = v4 ? BinaryPrimitives.ReadUInt16BigEndian(super[4..]) : (ushort)0;
        uint sequence = BinaryPrimitives.ReadUInt32BigEndian(super[(ipHeaderLength + 4)..]);
        byte flags = super[ipHeaderLength + 13];

        // A memmove: for segment 0 over the super-packet both copies are no-ops.
        super.Slice(payloadStart, payloadLength).CopyTo(destination[headerLength..]);
        super[..headerLength].CopyTo(destination);
        var segment = destination[..length];

        if (index != segments - 1) flags &= unchecked((byte)~TcpFinPsh);
        if (index != 0) flags &= unchecked((byte)~(byte)TcpFlags.Cwr);
        var tcp = segment[ipHeaderLength..];
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], sequence + (uint)(index * gsoSize));
        tcp[13] = flags;
        if (v4)
        {
            BinaryPrimitives.WriteUInt16BigEndian(segment[2..], (ushort)length);
            BinaryPrimitives.WriteUInt16BigEndian(segment[4..], (ushort)(id + index));
            segment[10] = segment[11] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(segment[10..], Checksum.Compute(segment[..ipHeaderLength]));
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(segment[4..], (ushort)(length - 40));
        }
        tcp[16] = tcp[17] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], (ushort)~Checksum.Fold(Checksum.PartialSum(tcp, PseudoHeaderSum(segment, v4, tcp.Length))));
        return length;
    }

    /// <summary>
    /// Completes a NEEDS_CSUM packet: the field at start + offset holds the pseudo-header sum, so the
    /// checksum is the complement of the sum from start to the end. False when the range is outside the packet.
    /// </summary>
    public static bool CompleteChecksum(Span<byte> packet, int start, int offset)
    {
        if (start < 0 || offset < 0 || start + offset + 2 > packet.Length) return false;
        ushort checksum = (ushort)~Checksum.Fold(Checksum.PartialSum(packet[start..]));
        // UDP sends a computed 0 as 0xFFFF (0 means "no checksum"); offset 6 is UDP's field.
        if (checksum == 0 && offset == 6) checksum = 0xFFFF;
        BinaryPrimitives.WriteUInt16BigEndian(packet[(start + offset)..], checksum);
        return true;
    }

    /// <summary>The folded pseudo-header sum (addresses, protocol TCP, length) of an IPv4 or IPv6 packet.</summary>
    public static uint PseudoHeaderSum(ReadOnlySpan<byte> packet, bool v4, int transportLength)
    {
        var addresses = v4 ? packet[12..20] : packet[8..40];
        return Checksum.Fold((ulong)Checksum.PartialSum(addresses) + IpProtocol.Tcp + (uint)transportLength);
    }
}
