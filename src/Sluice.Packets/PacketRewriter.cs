using System.Buffers.Binary;

namespace Sluice.Packets;

/// <summary>
/// In-place NAT rewrites for the engine's per-packet path. Every checksum is patched incrementally
/// (RFC 1624), never recomputed, so the cost does not grow with the payload, and nothing allocates.
/// </summary>
public static class PacketRewriter
{
    /// <summary>
    /// Rewrites source and destination address and port of a TCP or UDP packet, fixing the IPv4
    /// header checksum and the transport checksum (a UDP-over-IPv4 checksum of 0 stays 0). Returns
    /// false, changing nothing, when the packet is not TCP/UDP, is a non-first fragment, is too short
    /// for its transport header, or the new addresses are not the packet's family.
    /// With <paramref name="checksumPending"/> the transport checksum is partial (<see cref="PartialChecksum"/>):
    /// its field holds the pseudo-header sum, so it absorbs only the address change (the ports are summed by
    /// whoever completes it), uncomplemented.
    /// </summary>
    public static bool RewriteTcpUdp(Span<byte> packet, NetAddress newSource, ushort newSourcePort, NetAddress newDestination, ushort newDestinationPort,
        bool checksumPending = false)
    {
        if (!IpPacket.TryParse(packet, out var ip) || !ip.HasTransportHeader) return false;
        if (newSource.IsV4 != ip.IsV4 || newDestination.IsV4 != ip.IsV4) return false;

        int checksumOffset;
        switch (ip.Protocol)
        {
            case IpProtocol.Tcp when ip.Payload.Length >= TcpSegment.MinHeaderLength:
                checksumOffset = TcpSegment.ChecksumOffset;
                break;
            case IpProtocol.Udp when ip.Payload.Length >= UdpDatagram.HeaderLength:
                checksumOffset = UdpDatagram.ChecksumOffset;
                break;
            default:
                return false;
        }

        uint addressDelta = RewriteAddresses(in ip, newSource, newDestination);

        // Ports sit at the same offsets (0 and 2) in TCP and UDP.
        Span<byte> segment = ip.Payload;
        ushort oldSourcePort = BinaryPrimitives.ReadUInt16BigEndian(segment);
        ushort oldDestinationPort = BinaryPrimitives.ReadUInt16BigEndian(segment[2..]);
        BinaryPrimitives.WriteUInt16BigEndian(segment, newSourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(segment[2..], newDestinationPort);

        Span<byte> checksumField = segment[checksumOffset..];
        ushort checksum = BinaryPrimitives.ReadUInt16BigEndian(checksumField);
        if (checksumPending)
        {
            BinaryPrimitives.WriteUInt16BigEndian(checksumField, Checksum.Fold((ulong)checksum + addressDelta));
            return true;
        }
        bool isUdp = ip.Protocol == IpProtocol.Udp;
        if (isUdp && checksum == 0 && ip.IsV4) return true; // RFC 768: no checksum; keep it that way.

        ulong delta = (ulong)addressDelta
            + (ushort)~oldSourcePort + newSourcePort
            + (ushort)~oldDestinationPort + newDestinationPort;
        checksum = (ushort)~Checksum.Fold((ulong)(ushort)~checksum + delta);
        if (isUdp && checksum == 0) checksum = 0xFFFF; // RFC 768: a computed 0 is sent as all ones.
        BinaryPrimitives.WriteUInt16BigEndian(checksumField, checksum);
        return true;
    }

    /// <summary>
    /// Rewrites the addresses and echo identifier of an ICMP or ICMPv6 echo request/reply. The
    /// ICMPv6 checksum covers the pseudo-header (RFC 4443 §2.3), so it absorbs the address change;
    /// the ICMPv4 checksum does not. Returns false, changing nothing, for anything else.
    /// </summary>
    public static bool RewriteIcmpEcho(Span<byte> packet, NetAddress newSource, NetAddress newDestination, ushort newIdentifier)
    {
        if (!IpPacket.TryParse(packet, out var ip) || !ip.HasTransportHeader) return false;
        if (newSource.IsV4 != ip.IsV4 || newDestination.IsV4 != ip.IsV4) return false;
        if (ip.Protocol != (ip.IsV4 ? IpProtocol.Icmp : IpProtocol.IcmpV6)) return false;
        if (!IcmpMessage.TryParse(ip.Payload, out var icmp)) return false;
        if (!icmp.IsEchoRequestFor(ip.IsV4) && !icmp.IsEchoReplyFor(ip.IsV4)) return false;

        uint addressDelta = RewriteAddresses(in ip, newSource, newDestination);

        ushort oldIdentifier = icmp.Identifier;
        icmp.Identifier = newIdentifier;
        ulong delta = (ulong)(ushort)~oldIdentifier + newIdentifier;
        if (!ip.IsV4) delta += addressDelta;
        icmp.Checksum = (ushort)~Checksum.Fold((ulong)(ushort)~icmp.Checksum + delta);
        return true;
    }

    /// <summary>
    /// Lowers the MSS option of a TCP SYN to <paramref name="maxMss"/> when it is larger, fixing the
    /// checksum incrementally. Returns true if the packet changed.
    /// </summary>
    public static bool ClampTcpMss(Span<byte> packet, ushort maxMss)
    {
        if (!IpPacket.TryParse(packet, out var ip) || !ip.HasTransportHeader || ip.Protocol != IpProtocol.Tcp) return false;
        if (!TcpSegment.TryParse(ip.Payload, out var tcp) || !tcp.HasFlag(TcpFlags.Syn)) return false;
        if (!tcp.TryGetMss(out ushort mss) || mss <= maxMss) return false;
        return tcp.SetMss(maxMss);
    }

    /// <summary>
    /// Writes both addresses, patches the IPv4 header checksum, and returns the checksum delta
    /// (~old sum + new sum, folded) that a pseudo-header checksum must absorb.
    /// </summary>
    private static uint RewriteAddresses(in IpPacket ip, NetAddress newSource, NetAddress newDestination)
    {
        Span<byte> source = ip.WritableSourceBytes;
        Span<byte> destination = ip.WritableDestinationBytes;
        uint oldSum = Checksum.PartialSum(source, Checksum.PartialSum(destination));
        uint newSum = Checksum.Fold((ulong)Checksum.AddressSum(newSource) + Checksum.AddressSum(newDestination));
        newSource.WriteTo(source);
        newDestination.WriteTo(destination);
        uint delta = Checksum.Fold((ulong)(ushort)~oldSum + newSum);

        if (ip.IsV4)
        {
            Span<byte> field = ip.Buffer[Ipv4Packet.ChecksumOffset..];
            ushort headerChecksum = BinaryPrimitives.ReadUInt16BigEndian(field);
            BinaryPrimitives.WriteUInt16BigEndian(field, (ushort)~Checksum.Fold((ulong)(ushort)~headerChecksum + delta));
        }
        return delta;
    }
}
