using System.Buffers.Binary;

namespace Sluice.Packets;

/// <summary>Decodes a packet once into the <see cref="FlowKey"/> the flow table and router see.</summary>
public static class FlowKeys
{
    /// <summary>
    /// TCP/UDP: addresses and ports. ICMP/ICMPv6 echo request or reply: the identifier in both
    /// port fields. False for other protocols, other ICMP types, non-first fragments, and
    /// segments too short to hold their header.
    /// </summary>
    public static bool TryGetFlowKey(in IpPacket packet, out FlowKey key)
    {
        key = default;
        if (!packet.HasTransportHeader) return false;
        Span<byte> segment = packet.Payload;
        switch (packet.Protocol)
        {
            case IpProtocol.Tcp:
                if (!TcpSegment.TryParse(segment, out var tcp)) return false;
                key = new FlowKey(IpProtocol.Tcp, packet.Source, tcp.SourcePort, packet.Destination, tcp.DestinationPort);
                return true;
            case IpProtocol.Udp:
                if (segment.Length < UdpDatagram.HeaderLength) return false;
                // Ports only: a first fragment's UDP length field exceeds the fragment, so no TryParse.
                key = new FlowKey(IpProtocol.Udp,
                    packet.Source, BinaryPrimitives.ReadUInt16BigEndian(segment[UdpDatagram.SourcePortOffset..]),
                    packet.Destination, BinaryPrimitives.ReadUInt16BigEndian(segment[UdpDatagram.DestinationPortOffset..]));
                return true;
            case IpProtocol.Icmp when packet.IsV4:
            case IpProtocol.IcmpV6 when !packet.IsV4:
                if (!IcmpMessage.TryParse(segment, out var icmp)) return false;
                if (!icmp.IsEchoRequestFor(packet.IsV4) && !icmp.IsEchoReplyFor(packet.IsV4)) return false;
                key = new FlowKey(packet.Protocol, packet.Source, icmp.Identifier, packet.Destination, icmp.Identifier);
                return true;
            default:
                return false;
        }
    }
}
