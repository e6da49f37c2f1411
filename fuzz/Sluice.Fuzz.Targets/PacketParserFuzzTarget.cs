using Sluice.Packets;

namespace Sluice.Fuzz.Targets;

/// <summary>
/// The fuzz target for the packet parsers, shared by the SharpFuzz harness (fuzz/Sluice.Fuzz) and
/// the bounded mutation test. It must never throw on any input; it throws
/// <see cref="InvalidOperationException"/> only when an invariant breaks:
/// 1. parse the bytes as an IP packet (and, failing that, as bare transport headers);
/// 2. read every field of every view and derive the flow key;
/// 3. on copies, run each rewrite and check that checksums that verified still verify;
/// 4. run each builder and check that its output parses and verifies.
/// </summary>
public static class PacketParserFuzzTarget
{
    private const int BuildBufferLength = 2048;

    public static void Run(ReadOnlySpan<byte> data)
    {
        byte[] bytes = data.ToArray(); // the views need a writable span; the input must stay intact
        if (!IpPacket.TryParse(bytes, out var ip))
        {
            WalkTransport(bytes, bytes);
            return;
        }

        ReadFields(in ip);
        WalkTransport(ip.Payload, ip.Protocol == IpProtocol.Tcp ? ip.Payload : default);
        if (FlowKeys.TryGetFlowKey(in ip, out var key) && key.Reverse().Reverse() != key)
            throw new InvalidOperationException("FlowKey.Reverse is not an involution");

        byte[] packet = ip.Buffer.ToArray();
        CheckTtl(packet);
        CheckRewrites(packet);
        CheckBuilders(packet);
    }

    private static void ReadFields(in IpPacket ip)
    {
        _ = ip.Version;
        _ = ip.HeaderLength + ip.TotalLength + ip.Ttl;
        _ = ip.IsFragment | ip.IsFirstFragment | ip.HasTransportHeader | ip.IsHeaderChecksumValid;
        _ = ip.Source.Equals(ip.Destination);
        _ = Checksum.VerifyTransport(in ip);
        if (ip.IsV4)
        {
            if (!Ipv4Packet.TryParse(ip.Buffer, out var v4)) throw new InvalidOperationException("IpPacket accepted what Ipv4Packet rejects");
            _ = v4.Ihl + v4.Tos + v4.Identification + v4.Flags + v4.FragmentOffset + v4.HeaderChecksum;
            _ = v4.Options.Length + v4.Payload.Length;
            _ = v4.DontFragment | v4.MoreFragments;
        }
        else
        {
            if (!Ipv6Packet.TryParse(ip.Buffer, out var v6)) throw new InvalidOperationException("IpPacket accepted what Ipv6Packet rejects");
            _ = v6.TrafficClass + v6.FlowLabel + v6.PayloadLength + v6.NextHeader + v6.HopLimit;
            _ = v6.Source.Equals(v6.Destination);
            _ = v6.Payload.Length;
        }
    }

    private static void WalkTransport(Span<byte> segment, Span<byte> tcpSegment)
    {
        if (TcpSegment.TryParse(tcpSegment.IsEmpty ? segment : tcpSegment, out var tcp))
        {
            _ = tcp.SourcePort + tcp.DestinationPort + tcp.SequenceNumber + tcp.AcknowledgmentNumber;
            _ = tcp.DataOffset + (int)tcp.Flags + tcp.Window + tcp.Checksum + tcp.UrgentPointer;
            _ = tcp.Options.Length + tcp.Payload.Length;
            _ = tcp.TryGetMss(out _);
        }
        if (UdpDatagram.TryParse(segment, out var udp))
        {
            _ = udp.SourcePort + udp.DestinationPort + udp.Length + udp.Checksum + udp.Payload.Length;
        }
        if (IcmpMessage.TryParse(segment, out var icmp))
        {
            _ = icmp.Type + icmp.Code + icmp.Checksum + icmp.Identifier + icmp.SequenceNumber;
            _ = icmp.RestOfHeader.Length + icmp.Payload.Length;
            _ = icmp.IsEchoRequest | icmp.IsEchoReply;
        }
    }

    private static void CheckTtl(byte[] original)
    {
        byte[] packet = (byte[])original.Clone();
        IpPacket.TryParse(packet, out var ip);
        bool headerValid = ip.IsHeaderChecksumValid;
        ip.Ttl = (byte)(ip.Ttl - 1);
        if (headerValid && !ip.IsHeaderChecksumValid) throw new InvalidOperationException("Ttl setter broke the IPv4 header checksum");
    }

    private static void CheckRewrites(byte[] original)
    {
        IpPacket.TryParse(original, out var ip);
        bool headerValid = ip.IsHeaderChecksumValid;
        bool transportValid = Checksum.VerifyTransport(in ip);
        NetAddress newSource = ip.Destination;
        NetAddress newDestination = ip.Source;

        byte[] packet = (byte[])original.Clone();
        if (PacketRewriter.RewriteTcpUdp(packet, newSource, 40000, newDestination, 53))
            EnsureStillValid(packet, headerValid, transportValid, "RewriteTcpUdp");

        packet = (byte[])original.Clone();
        if (PacketRewriter.RewriteIcmpEcho(packet, newSource, newDestination, 0xBEEF))
            EnsureStillValid(packet, headerValid, transportValid, "RewriteIcmpEcho");

        packet = (byte[])original.Clone();
        if (PacketRewriter.ClampTcpMss(packet, 536))
            EnsureStillValid(packet, headerValid, transportValid, "ClampTcpMss");
    }

    private static void EnsureStillValid(byte[] packet, bool headerValid, bool transportValid, string operation)
    {
        if (!IpPacket.TryParse(packet, out var ip)) throw new InvalidOperationException($"{operation} made the packet unparsable");
        if (headerValid && !ip.IsHeaderChecksumValid) throw new InvalidOperationException($"{operation} broke the IPv4 header checksum");
        if (transportValid && !Checksum.VerifyTransport(in ip)) throw new InvalidOperationException($"{operation} broke the transport checksum");
    }

    private static void CheckBuilders(byte[] original)
    {
        IpPacket.TryParse(original, out var ip);
        Span<byte> output = new byte[BuildBufferLength];

        EnsureBuilt(output[..PacketBuilder.TcpReset(output, in ip)], IpProtocol.Tcp, "TcpReset");
        EnsureBuilt(output[..PacketBuilder.IcmpUnreachable(output, in ip, 3)], ip.IsV4 ? IpProtocol.Icmp : IpProtocol.IcmpV6, "IcmpUnreachable");

        Span<byte> echoOutput = new byte[ip.TotalLength + PacketBuilder.IpHeaderLength(ip.IsV4)];
        EnsureBuilt(echoOutput[..PacketBuilder.IcmpEchoReply(echoOutput, in ip)], ip.IsV4 ? IpProtocol.Icmp : IpProtocol.IcmpV6, "IcmpEchoReply");

        Span<byte> payload = ip.Payload[..Math.Min(ip.Payload.Length, 1400)];
        EnsureBuilt(output[..PacketBuilder.Udp(output, ip.Source, 1, ip.Destination, 2, payload)], IpProtocol.Udp, "Udp");
    }

    private static void EnsureBuilt(Span<byte> built, byte protocol, string builder)
    {
        if (built.IsEmpty) return;
        if (!IpPacket.TryParse(built, out var ip) || ip.TotalLength != built.Length)
            throw new InvalidOperationException($"{builder} built an unparsable packet");
        if (ip.Protocol != protocol || !ip.IsHeaderChecksumValid || !Checksum.VerifyTransport(in ip))
            throw new InvalidOperationException($"{builder} built a packet whose checksums do not verify");
    }
}
