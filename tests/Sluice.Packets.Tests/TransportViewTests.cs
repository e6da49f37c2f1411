using Sluice.Packets;

namespace Sluice.Packets.Tests;

public class TransportViewTests
{
    [Fact]
    public void Tcp_ReadsEveryField_OfSynWithOptions()
    {
        byte[] bytes = GoldenPackets.Bytes(GoldenPackets.V4TcpSyn);
        Assert.True(IpPacket.TryParse(bytes, out var ip));
        Assert.True(TcpSegment.TryParse(ip.Payload, out var tcp));
        Assert.Equal(54321, tcp.SourcePort);
        Assert.Equal(443, tcp.DestinationPort);
        Assert.Equal(0x1a2b3c4du, tcp.SequenceNumber);
        Assert.Equal(0u, tcp.AcknowledgmentNumber);
        Assert.Equal(40, tcp.DataOffset);
        Assert.Equal(TcpFlags.Syn, tcp.Flags);
        Assert.True(tcp.HasFlag(TcpFlags.Syn));
        Assert.False(tcp.HasFlag(TcpFlags.Ack));
        Assert.Equal(64240, tcp.Window);
        Assert.Equal(0x4681, tcp.Checksum);
        Assert.Equal(0, tcp.UrgentPointer);
        Assert.Equal(20, tcp.Options.Length);
        Assert.True(tcp.Payload.IsEmpty);
        Assert.True(tcp.TryGetMss(out ushort mss));
        Assert.Equal(1460, mss);
        Assert.True(Reference.TransportValid(bytes));
    }

    [Fact]
    public void TcpFlags_HaveRfcBitValues()
    {
        Assert.Equal(1, (int)TcpFlags.Fin);
        Assert.Equal(2, (int)TcpFlags.Syn);
        Assert.Equal(4, (int)TcpFlags.Rst);
        Assert.Equal(8, (int)TcpFlags.Psh);
        Assert.Equal(16, (int)TcpFlags.Ack);
        Assert.Equal(32, (int)TcpFlags.Urg);
        Assert.Equal(64, (int)TcpFlags.Ece);
        Assert.Equal(128, (int)TcpFlags.Cwr);
    }

    [Fact]
    public void Tcp_RejectsShortSegments_AndBadDataOffset()
    {
        byte[] bytes = GoldenPackets.Bytes(GoldenPackets.V4TcpSyn)[20..];
        for (int length = 0; length < 40; length++)
            Assert.False(TcpSegment.TryParse(bytes.AsSpan(0, length), out _));
        bytes[12] = 0x40; // data offset 16 bytes < 20
        Assert.False(TcpSegment.TryParse(bytes, out _));
        bytes[12] = 0xF0; // 60 bytes > 40
        Assert.False(TcpSegment.TryParse(bytes, out _));
    }

    [Fact]
    public void TcpMss_IsNotFound_WhenOptionsAreMalformed()
    {
        byte[] bytes = GoldenPackets.Bytes(GoldenPackets.V4TcpSyn)[20..];
        bytes[21] = 0; // MSS length 0
        Assert.True(TcpSegment.TryParse(bytes, out var tcp));
        Assert.False(tcp.TryGetMss(out _));
        Assert.False(tcp.SetMss(536));
        bytes[20] = 0; // end of options list before MSS
        Assert.False(tcp.TryGetMss(out _));
    }

    [Fact]
    public void TcpSetMss_KeepsChecksumValid_WhenOptionIsAtOddOffset()
    {
        // A NOP before MSS puts the 16-bit value at an odd offset, straddling two checksum words.
        byte[] packet = new byte[80];
        NetAddress a = NetAddress.Parse("10.1.1.1"), b = NetAddress.Parse("10.2.2.2");
        int length = TcpPackets.Build(packet, a, 1000, b, 2000, TcpFlags.Syn, options: [1, 2, 4, 0x05, 0xb4, 1, 1, 1], payload: []);
        byte[] bytes = packet[..length];
        Assert.True(IpPacket.TryParse(bytes, out var ip));
        Assert.True(TcpSegment.TryParse(ip.Payload, out var tcp));
        Assert.True(tcp.TryGetMss(out ushort mss));
        Assert.Equal(1460, mss);
        Assert.True(tcp.SetMss(1200));
        Assert.True(tcp.TryGetMss(out mss));
        Assert.Equal(1200, mss);
        Assert.True(Reference.TransportValid(bytes));
    }

    [Fact]
    public void Udp_ReadsEveryField_OfIpv6Datagram()
    {
        byte[] bytes = GoldenPackets.Bytes(GoldenPackets.V6Udp);
        Assert.True(IpPacket.TryParse(bytes, out var ip));
        Assert.True(UdpDatagram.TryParse(ip.Payload, out var udp));
        Assert.Equal(5353, udp.SourcePort);
        Assert.Equal(53, udp.DestinationPort);
        Assert.Equal(17, udp.Length);
        Assert.Equal(0x73d8, udp.Checksum);
        Assert.Equal("hello dns"u8.ToArray(), udp.Payload.ToArray());
        Assert.True(Reference.TransportValid(bytes));
    }

    [Fact]
    public void Udp_RejectsLengthFieldBelowHeaderOrBeyondBuffer()
    {
        byte[] datagram = GoldenPackets.Bytes(GoldenPackets.V6Udp)[40..];
        for (int length = 0; length < 8; length++)
            Assert.False(UdpDatagram.TryParse(datagram.AsSpan(0, length), out _));
        datagram[5] = 7;
        Assert.False(UdpDatagram.TryParse(datagram, out _));
        datagram[5] = 18;
        Assert.False(UdpDatagram.TryParse(datagram, out _));
        datagram[5] = 10;
        Assert.True(UdpDatagram.TryParse(datagram, out var udp));
        Assert.Equal(2, udp.Payload.Length);
    }

    [Fact]
    public void Icmp_ReadsEveryField_OfIpv4EchoRequest()
    {
        byte[] bytes = GoldenPackets.Bytes(GoldenPackets.V4Echo);
        Assert.True(IpPacket.TryParse(bytes, out var ip));
        Assert.Equal(IpProtocol.Icmp, ip.Protocol);
        Assert.Equal(63, ip.Ttl);
        Assert.True(IcmpMessage.TryParse(ip.Payload, out var icmp));
        Assert.Equal(IcmpTypes.V4EchoRequest, icmp.Type);
        Assert.Equal(0, icmp.Code);
        Assert.Equal(0xa27f, icmp.Checksum);
        Assert.Equal(0x1234, icmp.Identifier);
        Assert.Equal(1, icmp.SequenceNumber);
        Assert.Equal(new byte[] { 0x12, 0x34, 0x00, 0x01 }, icmp.RestOfHeader.ToArray());
        Assert.Equal("abcdefghijklmnop"u8.ToArray(), icmp.Payload.ToArray());
        Assert.True(icmp.IsEchoRequest);
        Assert.False(icmp.IsEchoReply);
        Assert.True(icmp.IsEchoRequestFor(v4: true));
        Assert.False(icmp.IsEchoRequestFor(v4: false));
        Assert.True(Reference.TransportValid(bytes));
    }

    [Fact]
    public void Icmp_ReadsEveryField_OfIpv6EchoRequest()
    {
        byte[] bytes = GoldenPackets.Bytes(GoldenPackets.V6Echo);
        Assert.True(IpPacket.TryParse(bytes, out var ip));
        Assert.Equal(IpProtocol.IcmpV6, ip.Protocol);
        Assert.True(IcmpMessage.TryParse(ip.Payload, out var icmp));
        Assert.Equal(IcmpTypes.V6EchoRequest, icmp.Type);
        Assert.Equal(0, icmp.Code);
        Assert.Equal(0x7b0a, icmp.Checksum);
        Assert.Equal(0x4321, icmp.Identifier);
        Assert.Equal(7, icmp.SequenceNumber);
        Assert.Equal("0123456789a"u8.ToArray(), icmp.Payload.ToArray());
        Assert.True(icmp.IsEchoRequest);
        Assert.True(icmp.IsEchoRequestFor(v4: false));
        Assert.True(Reference.TransportValid(bytes));
    }

    [Fact]
    public void Icmp_RejectsMessagesShorterThanEightBytes()
    {
        byte[] message = new byte[8];
        for (int length = 0; length < 8; length++)
            Assert.False(IcmpMessage.TryParse(message.AsSpan(0, length), out _));
        Assert.True(IcmpMessage.TryParse(message, out _));
    }
}
