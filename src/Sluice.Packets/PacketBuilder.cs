using System.Buffers.Binary;

namespace Sluice.Packets;

/// <summary>
/// Builds complete IP packets into a caller's span and returns the bytes written (0 when the
/// input does not call for a packet). Checksums are computed in full. IPv4: TTL 64, DF set,
/// identification from a process-wide counter. IPv6: hop limit 64, no extension headers.
/// </summary>
public static class PacketBuilder
{
    public const byte DefaultTtl = 64;

    /// <summary>RFC 1812 §4.3.2.3: an ICMPv4 error should not exceed 576 bytes.</summary>
    public const int MaxIcmpV4ErrorLength = 576;

    /// <summary>RFC 4443 §2.4(c): an ICMPv6 error must not exceed the minimum MTU, 1280 bytes.</summary>
    public const int MaxIcmpV6ErrorLength = 1280;

    private const int TcpResetLength = TcpSegment.MinHeaderLength;
    private static int s_identification;

    /// <summary>IP + UDP header length: 28 for IPv4, 48 for IPv6.</summary>
    public static int IpUdpHeaderLength(bool v4) => IpHeaderLength(v4) + UdpDatagram.HeaderLength;

    /// <summary>IP header length this builder writes: 20 or 40.</summary>
    public static int IpHeaderLength(bool v4) => v4 ? Ipv4Packet.MinHeaderLength : Ipv6Packet.HeaderLength;

    /// <summary>A UDP datagram carrying <paramref name="payload"/> (which may already lie inside <paramref name="destination"/>).</summary>
    public static int Udp(Span<byte> destination, NetAddress source, ushort sourcePort, NetAddress target, ushort targetPort, ReadOnlySpan<byte> payload)
    {
        int headerLength = IpUdpHeaderLength(source.IsV4);
        EnsureCapacity(destination, headerLength + payload.Length);
        payload.CopyTo(destination[headerLength..]); // memmove semantics: overlap is fine.
        return UdpInPlace(destination, source, sourcePort, target, targetPort, payload.Length);
    }

    /// <summary>A UDP datagram whose payload the caller already placed at <c>destination[IpUdpHeaderLength(v4)..]</c>.</summary>
    public static int UdpInPlace(Span<byte> destination, NetAddress source, ushort sourcePort, NetAddress target, ushort targetPort, int payloadLength)
    {
        int udpLength = UdpDatagram.HeaderLength + payloadLength;
        if (payloadLength < 0 || udpLength > ushort.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(payloadLength), payloadLength, "a UDP payload is 0..65527 bytes");
        int ipHeaderLength = WriteIpHeader(destination, source, target, IpProtocol.Udp, udpLength);
        Span<byte> udp = destination.Slice(ipHeaderLength, udpLength);
        BinaryPrimitives.WriteUInt16BigEndian(udp[UdpDatagram.SourcePortOffset..], sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[UdpDatagram.DestinationPortOffset..], targetPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[UdpDatagram.LengthOffset..], (ushort)udpLength);
        BinaryPrimitives.WriteUInt16BigEndian(udp[UdpDatagram.ChecksumOffset..], 0);
        ushort checksum = Checksum.PseudoHeaderTransport(source, target, IpProtocol.Udp, udp);
        BinaryPrimitives.WriteUInt16BigEndian(udp[UdpDatagram.ChecksumOffset..], checksum == 0 ? (ushort)0xFFFF : checksum);
        return ipHeaderLength + udpLength;
    }

    /// <summary>
    /// A TCP RST answering <paramref name="offending"/> (RFC 9293 §3.10.7.1): addresses and ports
    /// swapped; if the offending segment has ACK, SEQ = SEG.ACK with RST only; otherwise SEQ = 0,
    /// ACK = SEG.SEQ + SEG.LEN (SYN and FIN count one each) with RST|ACK. Returns 0 for anything
    /// that is not a whole TCP segment, and for a RST (never answer a reset).
    /// </summary>
    public static int TcpReset(Span<byte> destination, in IpPacket offending)
    {
        if (offending.Protocol != IpProtocol.Tcp || offending.IsFragment) return 0;
        if (!TcpSegment.TryParse(offending.Payload, out var segment) || segment.HasFlag(TcpFlags.Rst)) return 0;

        uint sequence;
        uint acknowledgment;
        TcpFlags flags;
        if (segment.HasFlag(TcpFlags.Ack))
        {
            sequence = segment.AcknowledgmentNumber;
            acknowledgment = 0;
            flags = TcpFlags.Rst;
        }
        else
        {
            uint length = (uint)segment.Payload.Length
                + (segment.HasFlag(TcpFlags.Syn) ? 1u : 0u)
                + (segment.HasFlag(TcpFlags.Fin) ? 1u : 0u);
            sequence = 0;
            acknowledgment = unchecked(segment.SequenceNumber + length);
            flags = TcpFlags.Rst | TcpFlags.Ack;
        }

        NetAddress source = offending.Destination;
        NetAddress target = offending.Source;
        int ipHeaderLength = WriteIpHeader(destination, source, target, IpProtocol.Tcp, TcpResetLength);
        Span<byte> tcp = destination.Slice(ipHeaderLength, TcpResetLength);
        tcp.Clear();
        BinaryPrimitives.WriteUInt16BigEndian(tcp[TcpSegment.SourcePortOffset..], segment.DestinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[TcpSegment.DestinationPortOffset..], segment.SourcePort);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[TcpSegment.SequenceOffset..], sequence);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[TcpSegment.AcknowledgmentOffset..], acknowledgment);
        tcp[TcpSegment.DataOffsetOffset] = (TcpSegment.MinHeaderLength / 4) << 4;
        tcp[TcpSegment.FlagsOffset] = (byte)flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[TcpSegment.ChecksumOffset..],
            Checksum.PseudoHeaderTransport(source, target, IpProtocol.Tcp, tcp));
        return ipHeaderLength + TcpResetLength;
    }

    /// <summary>
    /// An ICMP destination unreachable for <paramref name="offending"/>, sent from its destination to
    /// its source. IPv4: type 3 with <paramref name="code"/> (see <see cref="IcmpCodes"/>), quoting
    /// as much of the offending packet as fits in 576 bytes (at least its header + 8 bytes).
    /// IPv6: type 1, quoting as much as fits in 1280 bytes. Also limited by
    /// <paramref name="destination"/>'s length. Returns 0 when an error is forbidden: about an ICMP
    /// error or a non-first fragment (RFC 1122 §3.2.2, RFC 4443 §2.4(e)).
    /// </summary>
    public static int IcmpUnreachable(Span<byte> destination, in IpPacket offending, byte code) =>
        IcmpError(destination, offending, offending.IsV4 ? IcmpTypes.V4DestinationUnreachable : IcmpTypes.V6DestinationUnreachable, code, 0);

    /// <summary>
    /// "Packet too big" for a packet that does not fit a lane's MTU: ICMPv4 type 3 code 4
    /// (fragmentation needed, next-hop MTU in the low 16 bits, RFC 1191) or ICMPv6 type 2 (MTU in the
    /// 32-bit field, RFC 4443). Returns 0 when no error may be sent about <paramref name="offending"/>.
    /// </summary>
    public static int PacketTooBig(Span<byte> destination, in IpPacket offending, int mtu) => offending.IsV4
        ? IcmpError(destination, offending, IcmpTypes.V4DestinationUnreachable, 4, (uint)(mtu & 0xffff))
        : IcmpError(destination, offending, 2, 0, (uint)mtu);

    private static int IcmpError(Span<byte> destination, in IpPacket offending, byte type, byte code, uint restOfHeader)
    {
        bool v4 = offending.IsV4;
        if (!offending.HasTransportHeader) return 0;
        if (offending.Protocol == (v4 ? IpProtocol.Icmp : IpProtocol.IcmpV6)
            && (offending.Payload.IsEmpty || IcmpTypes.IsError(offending.Payload[0], v4)))
            return 0;

        int headersLength = IpHeaderLength(v4) + IcmpMessage.HeaderLength;
        int limit = Math.Min(v4 ? MaxIcmpV4ErrorLength : MaxIcmpV6ErrorLength, destination.Length);
        int quoteLength = Math.Min(offending.TotalLength, limit - headersLength);
        // RFC 792 asks for the IP header (options included) + 8 bytes; IPv6 asks only "as much as
        // fits", and its extension headers may not, so require just the fixed header + 8 bytes.
        int minimumQuote = Math.Min(offending.TotalLength, (v4 ? offending.HeaderLength : Ipv6Packet.HeaderLength) + 8);
        if (quoteLength < minimumQuote)
            throw new ArgumentException($"destination holds {destination.Length} bytes; an ICMP error quoting this packet needs at least {headersLength + minimumQuote}", nameof(destination));

        NetAddress source = offending.Destination;
        NetAddress target = offending.Source;
        int icmpLength = IcmpMessage.HeaderLength + quoteLength;
        // Copy the quote first: the offending packet may live in the same buffer.
        offending.Buffer[..quoteLength].CopyTo(destination[headersLength..]);
        int ipHeaderLength = WriteIpHeader(destination, source, target, v4 ? IpProtocol.Icmp : IpProtocol.IcmpV6, icmpLength);
        Span<byte> icmp = destination.Slice(ipHeaderLength, icmpLength);
        icmp[IcmpMessage.TypeOffset] = type;
        icmp[IcmpMessage.CodeOffset] = code;
        icmp[IcmpMessage.ChecksumOffset..IcmpMessage.HeaderLength].Clear(); // checksum and unused word
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(icmp[4..], restOfHeader);
        WriteIcmpChecksum(icmp, source, target);
        return ipHeaderLength + icmpLength;
    }

    /// <summary>
    /// The echo reply to an echo request: addresses swapped, type 0 (ICMP) or 129 (ICMPv6), same
    /// identifier, sequence and payload. Returns 0 if <paramref name="echoRequest"/> is not one.
    /// </summary>
    public static int IcmpEchoReply(Span<byte> destination, in IpPacket echoRequest)
    {
        bool v4 = echoRequest.IsV4;
        if (echoRequest.IsFragment || echoRequest.Protocol != (v4 ? IpProtocol.Icmp : IpProtocol.IcmpV6)) return 0;
        if (!IcmpMessage.TryParse(echoRequest.Payload, out var request) || !request.IsEchoRequestFor(v4)) return 0;
        return IcmpEcho(destination, reply: true, echoRequest.Destination, echoRequest.Source,
            request.Identifier, request.SequenceNumber, request.Payload);
    }

    /// <summary>An ICMP/ICMPv6 echo request or reply built from parts (the payload may lie inside <paramref name="destination"/>).</summary>
    public static int IcmpEcho(Span<byte> destination, bool reply, NetAddress source, NetAddress target, ushort identifier, ushort sequence, ReadOnlySpan<byte> payload)
    {
        bool v4 = source.IsV4;
        int icmpLength = IcmpMessage.HeaderLength + payload.Length;
        int headersLength = IpHeaderLength(v4) + IcmpMessage.HeaderLength;
        EnsureCapacity(destination, headersLength + payload.Length);
        payload.CopyTo(destination[headersLength..]);
        int ipHeaderLength = WriteIpHeader(destination, source, target, v4 ? IpProtocol.Icmp : IpProtocol.IcmpV6, icmpLength);
        Span<byte> icmp = destination.Slice(ipHeaderLength, icmpLength);
        icmp[IcmpMessage.TypeOffset] = (v4, reply) switch
        {
            (true, true) => IcmpTypes.V4EchoReply,
            (true, false) => IcmpTypes.V4EchoRequest,
            (false, true) => IcmpTypes.V6EchoReply,
            (false, false) => IcmpTypes.V6EchoRequest,
        };
        icmp[IcmpMessage.CodeOffset] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(icmp[IcmpMessage.ChecksumOffset..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[IcmpMessage.IdentifierOffset..], identifier);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[IcmpMessage.SequenceOffset..], sequence);
        WriteIcmpChecksum(icmp, source, target);
        return ipHeaderLength + icmpLength;
    }

    /// <summary>ICMPv4 sums the message alone; ICMPv6 adds the pseudo-header (RFC 4443 §2.3).</summary>
    private static void WriteIcmpChecksum(Span<byte> icmp, NetAddress source, NetAddress target)
    {
        ushort checksum = source.IsV4
            ? Checksum.Compute(icmp)
            : Checksum.PseudoHeaderTransport(source, target, IpProtocol.IcmpV6, icmp);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[IcmpMessage.ChecksumOffset..], checksum);
    }

    /// <summary>Writes a 20-byte IPv4 or 40-byte IPv6 header for a payload of <paramref name="payloadLength"/>; returns its length.</summary>
    private static int WriteIpHeader(Span<byte> destination, NetAddress source, NetAddress target, byte protocol, int payloadLength)
    {
        if (source.IsV4 != target.IsV4)
            throw new ArgumentException($"source {source} and target {target} must be the same address family", nameof(target));
        bool v4 = source.IsV4;
        int headerLength = IpHeaderLength(v4);
        int totalLength = headerLength + payloadLength;
        EnsureCapacity(destination, totalLength);
        if (v4 ? totalLength > ushort.MaxValue : payloadLength > ushort.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(payloadLength), payloadLength, "the packet exceeds the IP length field (65535)");

        Span<byte> header = destination[..headerLength];
        if (v4)
        {
            header[Ipv4Packet.VersionIhlOffset] = 0x45;
            header[Ipv4Packet.TosOffset] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(header[Ipv4Packet.TotalLengthOffset..], (ushort)totalLength);
            BinaryPrimitives.WriteUInt16BigEndian(header[Ipv4Packet.IdentificationOffset..], (ushort)Interlocked.Increment(ref s_identification));
            BinaryPrimitives.WriteUInt16BigEndian(header[Ipv4Packet.FlagsFragmentOffset..], Ipv4Packet.DontFragmentFlag);
            header[Ipv4Packet.TtlOffset] = DefaultTtl;
            header[Ipv4Packet.ProtocolOffset] = protocol;
            BinaryPrimitives.WriteUInt16BigEndian(header[Ipv4Packet.ChecksumOffset..], 0);
            source.WriteTo(header[Ipv4Packet.SourceOffset..]);
            target.WriteTo(header[Ipv4Packet.DestinationOffset..]);
            BinaryPrimitives.WriteUInt16BigEndian(header[Ipv4Packet.ChecksumOffset..], Checksum.Compute(header));
        }
        else
        {
            BinaryPrimitives.WriteUInt32BigEndian(header, 0x6000_0000);
            BinaryPrimitives.WriteUInt16BigEndian(header[Ipv6Packet.PayloadLengthOffset..], (ushort)payloadLength);
            header[Ipv6Packet.NextHeaderOffset] = protocol;
            header[Ipv6Packet.HopLimitOffset] = DefaultTtl;
            source.WriteTo(header[Ipv6Packet.SourceOffset..]);
            target.WriteTo(header[Ipv6Packet.DestinationOffset..]);
        }
        return headerLength;
    }

    private static void EnsureCapacity(Span<byte> destination, int needed)
    {
        if (destination.Length < needed)
            throw new ArgumentException($"destination holds {destination.Length} bytes but the packet needs {needed}", nameof(destination));
    }
}
