using Sluice.Packets;

namespace Sluice.Packets.Tests;

public class PacketBuilderTests
{
    private static readonly NetAddress App4 = NetAddress.Parse("10.8.0.2"), Remote4 = NetAddress.Parse("203.0.113.5");
    private static readonly NetAddress App6 = NetAddress.Parse("fd00::2"), Remote6 = NetAddress.Parse("2001:db8::5");

    [Theory]
    [InlineData(true, 0)]
    [InlineData(true, 1)]
    [InlineData(true, 513)]
    [InlineData(false, 0)]
    [InlineData(false, 9)]
    [InlineData(false, 1400)]
    public void Udp_BuildsParsablePacket_WithValidChecksums(bool v4, int payloadLength)
    {
        byte[] payload = new byte[payloadLength];
        new Random(payloadLength).NextBytes(payload);
        byte[] buffer = new byte[1500];
        int length = PacketBuilder.Udp(buffer, v4 ? App4 : App6, 5000, v4 ? Remote4 : Remote6, 53, payload);

        Assert.Equal(PacketBuilder.IpUdpHeaderLength(v4) + payloadLength, length);
        byte[] packet = buffer[..length];
        Assert.True(IpPacket.TryParse(packet, out var ip));
        Assert.Equal(v4 ? App4 : App6, ip.Source);
        Assert.Equal(v4 ? Remote4 : Remote6, ip.Destination);
        Assert.Equal(64, ip.Ttl);
        Assert.True(UdpDatagram.TryParse(ip.Payload, out var udp));
        Assert.Equal(5000, udp.SourcePort);
        Assert.Equal(53, udp.DestinationPort);
        Assert.Equal(8 + payloadLength, udp.Length);
        Assert.Equal(payload, udp.Payload.ToArray());
        Assert.True(Reference.HeaderValid(packet));
        Assert.True(Reference.TransportValid(packet));
        if (v4)
        {
            Assert.True(Ipv4Packet.TryParse(packet, out var v4Packet));
            Assert.True(v4Packet.DontFragment);
        }
    }

    [Fact]
    public void IpUdpHeaderLength_Is28ForIpv4_And48ForIpv6()
    {
        Assert.Equal(28, PacketBuilder.IpUdpHeaderLength(true));
        Assert.Equal(48, PacketBuilder.IpUdpHeaderLength(false));
    }

    [Fact]
    public void UdpInPlace_UsesPayloadAlreadyInBuffer()
    {
        byte[] buffer = new byte[100];
        "in place"u8.CopyTo(buffer.AsSpan(PacketBuilder.IpUdpHeaderLength(false)));
        int length = PacketBuilder.UdpInPlace(buffer, App6, 1, Remote6, 2, 8);
        Assert.Equal(56, length);
        Assert.True(IpPacket.TryParse(buffer.AsSpan(0, length), out var ip));
        Assert.True(UdpDatagram.TryParse(ip.Payload, out var udp));
        Assert.Equal("in place"u8.ToArray(), udp.Payload.ToArray());
        Assert.True(Reference.TransportValid(buffer[..length]));
    }

    [Fact]
    public void Udp_IncrementsIpv4Identification()
    {
        byte[] a = new byte[64], b = new byte[64];
        PacketBuilder.Udp(a, App4, 1, Remote4, 2, []);
        PacketBuilder.Udp(b, App4, 1, Remote4, 2, []);
        Assert.True(Ipv4Packet.TryParse(a.AsSpan(0, 28), out var first));
        Assert.True(Ipv4Packet.TryParse(b.AsSpan(0, 28), out var second));
        Assert.NotEqual(first.Identification, second.Identification);
    }

    [Fact]
    public void Udp_Throws_WhenDestinationIsTooSmall_OrFamiliesDiffer()
    {
        Assert.Throws<ArgumentException>(() => PacketBuilder.Udp(new byte[30], App4, 1, Remote4, 2, new byte[3]));
        Assert.Throws<ArgumentException>(() => PacketBuilder.Udp(new byte[100], App4, 1, Remote6, 2, []));
    }

    [Fact]
    public void TcpReset_ToAckSegment_UsesItsAckAsSequence_WithoutAckFlag()
    {
        byte[] offending = TcpPackets.Build(App4, 40000, Remote4, 443, TcpFlags.Ack | TcpFlags.Psh, payload: new byte[10], sequence: 5000, acknowledgment: 777_777);
        Assert.True(IpPacket.TryParse(offending, out var ip));
        byte[] buffer = new byte[100];
        int length = PacketBuilder.TcpReset(buffer, in ip);

        Assert.Equal(40, length);
        byte[] reset = buffer[..length];
        Assert.True(IpPacket.TryParse(reset, out var rip));
        Assert.Equal(Remote4, rip.Source);
        Assert.Equal(App4, rip.Destination);
        Assert.True(TcpSegment.TryParse(rip.Payload, out var tcp));
        Assert.Equal(443, tcp.SourcePort);
        Assert.Equal(40000, tcp.DestinationPort);
        Assert.Equal(TcpFlags.Rst, tcp.Flags);
        Assert.Equal(777_777u, tcp.SequenceNumber);
        Assert.Equal(0u, tcp.AcknowledgmentNumber);
        Assert.True(Reference.HeaderValid(reset));
        Assert.True(Reference.TransportValid(reset));
    }

    [Fact]
    public void TcpReset_ToSyn_AcknowledgesSequencePlusOne_WithRstAck()
    {
        byte[] syn = GoldenPackets.Bytes(GoldenPackets.V4TcpSyn);
        Assert.True(IpPacket.TryParse(syn, out var ip));
        byte[] buffer = new byte[100];
        int length = PacketBuilder.TcpReset(buffer, in ip);

        byte[] reset = buffer[..length];
        Assert.True(IpPacket.TryParse(reset, out var rip));
        Assert.True(TcpSegment.TryParse(rip.Payload, out var tcp));
        Assert.Equal(TcpFlags.Rst | TcpFlags.Ack, tcp.Flags);
        Assert.Equal(0u, tcp.SequenceNumber);
        Assert.Equal(0x1a2b3c4du + 1, tcp.AcknowledgmentNumber);
        Assert.True(Reference.TransportValid(reset));
    }

    [Fact]
    public void TcpReset_ToSynFinWithData_CountsPayloadSynAndFin_Ipv6()
    {
        byte[] offending = TcpPackets.Build(App6, 1, Remote6, 2, TcpFlags.Syn | TcpFlags.Fin, payload: new byte[7], sequence: uint.MaxValue);
        Assert.True(IpPacket.TryParse(offending, out var ip));
        byte[] buffer = new byte[100];
        int length = PacketBuilder.TcpReset(buffer, in ip);

        Assert.Equal(60, length);
        byte[] reset = buffer[..length];
        Assert.True(IpPacket.TryParse(reset, out var rip));
        Assert.True(TcpSegment.TryParse(rip.Payload, out var tcp));
        Assert.Equal(unchecked(uint.MaxValue + 9u), tcp.AcknowledgmentNumber);
        Assert.Equal(TcpFlags.Rst | TcpFlags.Ack, tcp.Flags);
        Assert.True(Reference.TransportValid(reset));
    }

    [Fact]
    public void TcpReset_IsNotSent_ForRstOrNonTcp()
    {
        byte[] rst = TcpPackets.Build(App4, 1, Remote4, 2, TcpFlags.Rst);
        Assert.True(IpPacket.TryParse(rst, out var ip));
        Assert.Equal(0, PacketBuilder.TcpReset(new byte[100], in ip));
        byte[] udp = GoldenPackets.Bytes(GoldenPackets.V6Udp);
        Assert.True(IpPacket.TryParse(udp, out var uip));
        Assert.Equal(0, PacketBuilder.TcpReset(new byte[100], in uip));
    }

    [Fact]
    public void IcmpUnreachable_Ipv4_QuotesWholeSmallPacket_FromItsDestination()
    {
        byte[] offending = GoldenPackets.Bytes(GoldenPackets.V4TcpSyn);
        Assert.True(IpPacket.TryParse(offending, out var ip));
        byte[] buffer = new byte[1500];
        int length = PacketBuilder.IcmpUnreachable(buffer, in ip, IcmpCodes.V4AdministrativelyProhibited);

        Assert.Equal(20 + 8 + 60, length);
        byte[] error = buffer[..length];
        Assert.True(IpPacket.TryParse(error, out var eip));
        Assert.Equal(IpProtocol.Icmp, eip.Protocol);
        Assert.Equal(ip.Destination, eip.Source);
        Assert.Equal(ip.Source, eip.Destination);
        Assert.True(IcmpMessage.TryParse(eip.Payload, out var icmp));
        Assert.Equal(IcmpTypes.V4DestinationUnreachable, icmp.Type);
        Assert.Equal(13, icmp.Code);
        Assert.Equal(new byte[4], icmp.RestOfHeader.ToArray());
        Assert.Equal(offending, icmp.Payload.ToArray());
        Assert.True(Reference.HeaderValid(error));
        Assert.True(Reference.TransportValid(error));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void PacketTooBig_CarriesTheMtu_ForBothFamilies(bool v4)
    {
        byte[] offending = GoldenPackets.Bytes(v4 ? GoldenPackets.V4TcpSyn : GoldenPackets.V6Udp);
        Assert.True(IpPacket.TryParse(offending, out var ip));
        byte[] buffer = new byte[1500];
        int length = PacketBuilder.PacketTooBig(buffer, in ip, 1420);

        byte[] error = buffer[..length];
        Assert.True(IpPacket.TryParse(error, out var eip));
        Assert.True(IcmpMessage.TryParse(eip.Payload, out var icmp));
        Assert.Equal(v4 ? (byte)3 : (byte)2, icmp.Type);
        Assert.Equal(v4 ? (byte)4 : (byte)0, icmp.Code);
        // v4: unused 16 bits then the next-hop MTU; v6: the MTU as 32 bits.
        Assert.Equal(new byte[] { 0, 0, 1420 >> 8, 1420 & 0xff }, icmp.RestOfHeader.ToArray());
        Assert.Equal(ip.Source, eip.Destination);
        Assert.True(Reference.TransportValid(error));
    }

    [Fact]
    public void IcmpUnreachable_Ipv4_TruncatesQuote_To576Bytes()
    {
        byte[] buffer = new byte[2000];
        int offendingLength = PacketBuilder.Udp(buffer, App4, 1, Remote4, 2, new byte[1000]);
        byte[] offending = buffer[..offendingLength];
        Assert.True(IpPacket.TryParse(offending, out var ip));
        int length = PacketBuilder.IcmpUnreachable(buffer, in ip, IcmpCodes.V4PortUnreachable);

        Assert.Equal(576, length);
        Assert.True(IpPacket.TryParse(buffer.AsSpan(0, length), out var eip));
        Assert.Equal(offending.AsSpan(0, 548).ToArray(), eip.Payload[8..].ToArray());
        Assert.True(Reference.TransportValid(buffer[..length]));
    }

    [Fact]
    public void IcmpUnreachable_Ipv6_QuotesUpTo1280Bytes_WithPseudoHeaderChecksum()
    {
        byte[] buffer = new byte[3000];
        int offendingLength = PacketBuilder.Udp(buffer, App6, 1, Remote6, 2, new byte[1400]);
        byte[] offending = buffer[..offendingLength];
        Assert.True(IpPacket.TryParse(offending, out var ip));
        byte[] output = new byte[3000];
        int length = PacketBuilder.IcmpUnreachable(output, in ip, IcmpCodes.V6PortUnreachable);

        Assert.Equal(1280, length);
        byte[] error = output[..length];
        Assert.True(IpPacket.TryParse(error, out var eip));
        Assert.Equal(IpProtocol.IcmpV6, eip.Protocol);
        Assert.Equal(Remote6, eip.Source);
        Assert.True(IcmpMessage.TryParse(eip.Payload, out var icmp));
        Assert.Equal(IcmpTypes.V6DestinationUnreachable, icmp.Type);
        Assert.Equal(4, icmp.Code);
        Assert.Equal(offending.AsSpan(0, 1232).ToArray(), icmp.Payload.ToArray());
        Assert.True(Reference.TransportValid(error));
    }

    [Fact]
    public void IcmpUnreachable_IsNotSent_AboutIcmpErrors_OrLaterFragments()
    {
        byte[] buffer = new byte[1500];
        Assert.True(IpPacket.TryParse(GoldenPackets.Bytes(GoldenPackets.V4TcpSyn), out var syn));
        int length = PacketBuilder.IcmpUnreachable(buffer, in syn, 1);
        byte[] error = buffer[..length];
        Assert.True(IpPacket.TryParse(error, out var eip));
        Assert.Equal(0, PacketBuilder.IcmpUnreachable(new byte[1500], in eip, 1));

        Assert.True(IpPacket.TryParse(GoldenPackets.Bytes(GoldenPackets.V4SecondFragment), out var fragment));
        Assert.Equal(0, PacketBuilder.IcmpUnreachable(new byte[1500], in fragment, 1));

        Assert.True(IpPacket.TryParse(GoldenPackets.Bytes(GoldenPackets.V4Echo), out var echo));
        Assert.NotEqual(0, PacketBuilder.IcmpUnreachable(new byte[1500], in echo, 1)); // echo is not an error
    }

    [Theory]
    [InlineData(GoldenPackets.V4Echo)]
    [InlineData(GoldenPackets.V6Echo)]
    public void IcmpEchoReply_SwapsAddresses_AndKeepsIdSequenceAndPayload(string hex)
    {
        byte[] request = GoldenPackets.Bytes(hex);
        Assert.True(IpPacket.TryParse(request, out var ip));
        Assert.True(IcmpMessage.TryParse(ip.Payload, out var req));
        byte[] buffer = new byte[200];
        int length = PacketBuilder.IcmpEchoReply(buffer, in ip);

        Assert.Equal(request.Length, length);
        byte[] reply = buffer[..length];
        Assert.True(IpPacket.TryParse(reply, out var rip));
        Assert.Equal(ip.Destination, rip.Source);
        Assert.Equal(ip.Source, rip.Destination);
        Assert.True(IcmpMessage.TryParse(rip.Payload, out var rep));
        Assert.Equal(ip.IsV4 ? IcmpTypes.V4EchoReply : IcmpTypes.V6EchoReply, rep.Type);
        Assert.True(rep.IsEchoReply);
        Assert.Equal(req.Identifier, rep.Identifier);
        Assert.Equal(req.SequenceNumber, rep.SequenceNumber);
        Assert.Equal(req.Payload.ToArray(), rep.Payload.ToArray());
        Assert.True(Reference.HeaderValid(reply));
        Assert.True(Reference.TransportValid(reply));
    }

    [Fact]
    public void IcmpEchoReply_IsNotBuilt_ForAReply()
    {
        byte[] buffer = new byte[200];
        int length = PacketBuilder.IcmpEcho(buffer, reply: true, App4, Remote4, 1, 2, "x"u8);
        Assert.True(IpPacket.TryParse(buffer.AsSpan(0, length), out var ip));
        Assert.Equal(0, PacketBuilder.IcmpEchoReply(new byte[200], in ip));
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(false, false)]
    public void IcmpEcho_BuildsRequestsAndReplies_WithValidChecksums(bool v4, bool reply)
    {
        byte[] buffer = new byte[200];
        int length = PacketBuilder.IcmpEcho(buffer, reply, v4 ? App4 : App6, v4 ? Remote4 : Remote6, 0xABCD, 42, "ping!"u8);
        byte[] packet = buffer[..length];
        Assert.True(IpPacket.TryParse(packet, out var ip));
        Assert.True(IcmpMessage.TryParse(ip.Payload, out var icmp));
        Assert.Equal(reply, icmp.IsEchoReplyFor(v4));
        Assert.Equal(!reply, icmp.IsEchoRequestFor(v4));
        Assert.Equal(0xABCD, icmp.Identifier);
        Assert.Equal(42, icmp.SequenceNumber);
        Assert.Equal("ping!"u8.ToArray(), icmp.Payload.ToArray());
        Assert.True(Reference.HeaderValid(packet));
        Assert.True(Reference.TransportValid(packet));
    }
}
