using System.Buffers.Binary;
using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Platform.Linux;

/// <summary>
/// Software GRO for writes to a TUN with TUN_F_TSO4/6: consecutive in-order segments of one TCP flow
/// become one GSO packet the kernel takes in a single write (its TCP receives it as it would a GRO'd
/// packet). A segment joins the group when, against the group's first:
/// 1. the IP headers match but for length / identification / checksum (IPv4 without options or
///    fragmentation; IPv6 with TCP right after the fixed header), same addresses;
/// 2. the TCP headers match but for sequence number, checksum and PSH: same ports, acknowledgment,
///    window, header length and option bytes; only ACK (and PSH) set;
/// 3. its sequence number follows the previous segment's data, and its payload is the first's size,
///    or smaller to end the group (as is one with PSH);
/// 4. the whole stays under 64 KiB and <see cref="MaxSegments"/> segments.
/// <see cref="PrepareHead"/> then turns the first segment's headers into the GSO packet's (lengths of the
/// whole, PSH of the last, TCP checksum left to the kernel as NEEDS_CSUM). Pure functions over spans.
/// </summary>
internal static class TcpCoalescer
{
    public const int MaxSegments = 64;

    private const int MaxIpv4Total = 65535;
    private const byte AckOnly = (byte)TcpFlags.Ack;
    private const byte AckPsh = (byte)(TcpFlags.Ack | TcpFlags.Psh);

    /// <summary>
    /// How many packets from <paramref name="start"/> form one GSO packet (1 when the first cannot lead a
    /// group); <paramref name="gsoSize"/> is the first's payload size.
    /// </summary>
    public static int NextGroup(ReadOnlySpan<byte> buffer, ReadOnlySpan<PacketRange> packets, int start, out int gsoSize)
    {
        gsoSize = 0;
        var first = buffer.Slice(packets[start].Offset, packets[start].Length);
        if (!TryHeaders(first, out bool v4, out int ipHeaderLength, out int headerLength)) return 1;
        int payload = first.Length - headerLength;
        byte flags = first[ipHeaderLength + 13];
        if (payload <= 0 || flags != AckOnly) return 1;

        uint next = BinaryPrimitives.ReadUInt32BigEndian(first[(ipHeaderLength + 4)..]) + (uint)payload;
        int total = first.Length;
        int count = 1;
        while (start + count < packets.Length && count < MaxSegments)
        {
            var packet = buffer.Slice(packets[start + count].Offset, packets[start + count].Length);
            int length = packet.Length - headerLength;
            if (length <= 0 || length > payload || total + length > MaxIpv4Total) break;
            if (!SameFlowHeaders(first, packet, v4, ipHeaderLength, headerLength)) break;
            if (BinaryPrimitives.ReadUInt32BigEndian(packet[(ipHeaderLength + 4)..]) != next) break;
            byte packetFlags = packet[ipHeaderLength + 13];
            if (packetFlags is not (AckOnly or AckPsh)) break;
            total += length;
            next += (uint)length;
            count++;
            if (length < payload || packetFlags == AckPsh) break;
        }
        if (count > 1) gsoSize = payload;
        return count;
    }

    /// <summary>
    /// Rewrites the first segment's headers for a GSO packet of <paramref name="totalLength"/> bytes (IP
    /// header, TCP header, all payloads) and returns the virtio header that goes with it.
    /// </summary>
    public static VirtioNetHeader PrepareHead(Span<byte> first, int totalLength, bool psh, int gsoSize)
    {
        bool v4 = first[0] >> 4 == 4;
        int ipHeaderLength = v4 ? (first[0] & 0x0F) * 4 : 40;
        int headerLength = ipHeaderLength + (first[ipHeaderLength + 12] >> 4) * 4;
        if (v4)
        {
            BinaryPrimitives.WriteUInt16BigEndian(first[2..], (ushort)totalLength);
            first[10] = first[11] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(first[10..], Checksum.Compute(first[..ipHeaderLength]));
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(first[4..], (ushort)(totalLength - 40));
        }
        var tcp = first[ipHeaderLength..];
        if (psh) tcp[13] |= (byte)TcpFlags.Psh;
        // NEEDS_CSUM: the field holds the pseudo-header sum of the whole, not complemented (the kernel's convention).
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], (ushort)TcpSegmenter.PseudoHeaderSum(first, v4, totalLength - ipHeaderLength));
        return new VirtioNetHeader(VirtioNetHeader.NeedsChecksum, v4 ? VirtioNetHeader.GsoTcpV4 : VirtioNetHeader.GsoTcpV6,
            (ushort)headerLength, (ushort)gsoSize, (ushort)ipHeaderLength, VirtioNetHeader.TcpChecksumOffset);
    }

    /// <summary>IPv4 without options or fragmentation, or IPv6 with TCP next; a whole TCP header.</summary>
    private static bool TryHeaders(ReadOnlySpan<byte> packet, out bool v4, out int ipHeaderLength, out int headerLength)
    {
        v4 = false;
        ipHeaderLength = headerLength = 0;
        if (packet.Length < 40) return false;
        if (packet[0] == 0x45)
        {
            if (packet[9] != IpProtocol.Tcp || (BinaryPrimitives.ReadUInt16BigEndian(packet[6..]) & 0x3FFF) != 0) return false;
            if (BinaryPrimitives.ReadUInt16BigEndian(packet[2..]) != packet.Length) return false;
            v4 = true;
            ipHeaderLength = 20;
        }
        else if (packet[0] >> 4 == 6)
        {
            if (packet.Length < 60 || packet[6] != IpProtocol.Tcp || BinaryPrimitives.ReadUInt16BigEndian(packet[4..]) != packet.Length - 40) return false;
            ipHeaderLength = 40;
        }
        else
        {
            return false;
        }
        headerLength = ipHeaderLength + (packet[ipHeaderLength + 12] >> 4) * 4;
        return headerLength >= ipHeaderLength + TcpSegment.MinHeaderLength && headerLength <= packet.Length;
    }

    /// <summary>The same flow with the same header layout: every header byte equal but lengths, IDs, checksums, sequence and flags.</summary>
    private static bool SameFlowHeaders(ReadOnlySpan<byte> first, ReadOnlySpan<byte> packet, bool v4, int ipHeaderLength, int headerLength)
    {
        if (v4)
        {
            // version/IHL, TOS | flags+offset, TTL, protocol | addresses
            if (packet[0] != first[0] || packet[1] != first[1]) return false;
            if (!packet.Slice(6, 4).SequenceEqual(first.Slice(6, 4))) return false;
            if (!packet.Slice(12, 8).SequenceEqual(first.Slice(12, 8))) return false;
            if (BinaryPrimitives.ReadUInt16BigEndian(packet[2..]) != packet.Length) return false;
        }
        else
        {
            // version, traffic class, flow label | next header, hop limit, addresses
            if (!packet[..4].SequenceEqual(first[..4])) return false;
            if (!packet.Slice(6, 34).SequenceEqual(first.Slice(6, 34))) return false;
            if (BinaryPrimitives.ReadUInt16BigEndian(packet[4..]) != packet.Length - 40) return false;
        }
        var a = first[ipHeaderLength..headerLength];
        var b = packet[ipHeaderLength..headerLength];
        // ports | acknowledgment | data offset | window | options (sequence, flags, checksum, urgent pointer excluded)
        return b[..4].SequenceEqual(a[..4])
            && b.Slice(8, 5).SequenceEqual(a.Slice(8, 5))
            && b.Slice(14, 2).SequenceEqual(a.Slice(14, 2))
            && b[20..].SequenceEqual(a[20..]);
    }
}
