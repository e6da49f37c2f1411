using System.Buffers.Binary;

namespace Sluice.Packets;

/// <summary>
/// A TCP packet whose checksum is partial, as the kernel hands it over with checksum offload
/// (CHECKSUM_PARTIAL, a TUN's VIRTIO_NET_HDR_F_NEEDS_CSUM): the checksum field holds the folded,
/// uncomplemented pseudo-header sum (addresses, protocol, TCP length), and the sum over the TCP header and
/// payload is left to whoever sends it. Completing it is one pass over every byte; passing it on
/// partial (rewriting only the pseudo-header part, <see cref="PacketRewriter.RewriteTcpUdp"/>) is none.
/// </summary>
public static class PartialChecksum
{
    /// <summary>
    /// True when <paramref name="packet"/> is an IPv4 (not a fragment) or IPv6 TCP packet whose TCP header
    /// starts at <paramref name="checksumStart"/> and fits: the only partial checksums the engine passes on.
    /// </summary>
    public static bool IsTcpAt(ReadOnlySpan<byte> packet, int checksumStart)
    {
        if (packet.Length < 40) return false;
        switch (packet[0] >> 4)
        {
            case 4:
                if ((packet[0] & 0x0F) * 4 != checksumStart || packet[9] != IpProtocol.Tcp) return false;
                if ((BinaryPrimitives.ReadUInt16BigEndian(packet[6..]) & 0x3FFF) != 0) return false; // MF or an offset
                break;
            case 6:
                if (checksumStart != 40 || packet.Length < 60 || packet[6] != IpProtocol.Tcp) return false;
                break;
            default:
                return false;
        }
        return checksumStart + (packet[checksumStart + 12] >> 4) * 4 <= packet.Length
            && packet[checksumStart + 12] >> 4 >= 5;
    }

    /// <summary>
    /// Completes the partial TCP checksum in place: the complement of the sum from
    /// <paramref name="checksumStart"/> to the end, the field (holding the pseudo-header sum) included.
    /// </summary>
    public static void Complete(Span<byte> packet, int checksumStart)
    {
        var tcp = packet[checksumStart..];
        BinaryPrimitives.WriteUInt16BigEndian(tcp[TcpSegment.ChecksumOffset..], (ushort)~Checksum.Fold(Checksum.PartialSum(tcp)));
    }
}
