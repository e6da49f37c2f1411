using Sluice.Packets;

namespace Sluice.Packets.Tests;

public class IpPacketTests
{
    [Fact]
    public void Parse_ReadsEveryField_OfIpv4TcpSyn()
    {
        byte[] bytes = GoldenPackets.Bytes(GoldenPackets.V4TcpSyn);
        Assert.True(IpPacket.TryParse(bytes, out var ip));
        Assert.Equal(IpVersion.V4, ip.Version);
        Assert.True(ip.IsV4);
        Assert.Equal(IpProtocol.Tcp, ip.Protocol);
        Assert.Equal(20, ip.HeaderLength);
        Assert.Equal(60, ip.TotalLength);
        Assert.False(ip.IsFragment);
        Assert.False(ip.IsFirstFragment);
        Assert.True(ip.HasTransportHeader);
        Assert.Equal(40, ip.Payload.Length);
        Assert.Equal(NetAddress.Parse("192.168.1.100"), ip.Source);
        Assert.Equal(NetAddress.Parse("93.184.216.34"), ip.Destination);
        Assert.Equal(new byte[] { 192, 168, 1, 100 }, ip.SourceBytes.ToArray());
        Assert.Equal(new byte[] { 93, 184, 216, 34 }, ip.DestinationBytes.ToArray());
        Assert.Equal(64, ip.Ttl);
        Assert.True(ip.IsHeaderChecksumValid);

        Assert.True(Ipv4Packet.TryParse(bytes, out var v4));
        Assert.Equal(5, v4.Ihl);
        Assert.Equal(0, v4.Tos);
        Assert.Equal(60, v4.TotalLength);
        Assert.Equal(0x1c46, v4.Identification);
        Assert.Equal(0b010, v4.Flags);
        Assert.True(v4.DontFragment);
        Assert.False(v4.MoreFragments);
        Assert.Equal(0, v4.FragmentOffset);
        Assert.Equal(64, v4.Ttl);
        Assert.Equal(IpProtocol.Tcp, v4.Protocol);
        Assert.Equal(0x268f, v4.HeaderChecksum);
        Assert.Equal(Reference.Checksum(Zeroed(bytes.AsSpan(0, 20), 10)), v4.HeaderChecksum);
        Assert.True(v4.IsHeaderChecksumValid);
        Assert.True(v4.Options.IsEmpty);
        Assert.Equal(40, v4.Payload.Length);
    }

    [Fact]
    public void Parse_ReadsEveryField_OfIpv6Udp()
    {
        byte[] bytes = GoldenPackets.Bytes(GoldenPackets.V6Udp);
        Assert.True(IpPacket.TryParse(bytes, out var ip));
        Assert.Equal(IpVersion.V6, ip.Version);
        Assert.False(ip.IsV4);
        Assert.Equal(IpProtocol.Udp, ip.Protocol);
        Assert.Equal(40, ip.HeaderLength);
        Assert.Equal(57, ip.TotalLength);
        Assert.False(ip.IsFragment);
        Assert.Equal(NetAddress.Parse("2001:db8::1"), ip.Source);
        Assert.Equal(NetAddress.Parse("2001:db8::2"), ip.Destination);
        Assert.Equal(64, ip.Ttl);
        Assert.True(ip.IsHeaderChecksumValid);

        Assert.True(Ipv6Packet.TryParse(bytes, out var v6));
        Assert.Equal(0xb8, v6.TrafficClass);
        Assert.Equal(0x12345u, v6.FlowLabel);
        Assert.Equal(17, v6.PayloadLength);
        Assert.Equal(IpProtocol.Udp, v6.NextHeader);
        Assert.Equal(64, v6.HopLimit);
        Assert.Equal(ip.Source, v6.Source);
        Assert.Equal(ip.Destination, v6.Destination);
        Assert.Equal(17, v6.Payload.Length);
    }

    [Fact]
    public void Parse_WalksHopByHopHeader_ToUdp()
    {
        byte[] bytes = GoldenPackets.Bytes(GoldenPackets.V6HopByHopUdp);
        Assert.True(IpPacket.TryParse(bytes, out var ip));
        Assert.Equal(IpProtocol.Udp, ip.Protocol);
        Assert.Equal(48, ip.HeaderLength);
        Assert.Equal(10, ip.Payload.Length);
        Assert.Equal(1, ip.Ttl);
        Assert.True(Ipv6Packet.TryParse(bytes, out var v6));
        Assert.Equal(IpPacket.HopByHop, v6.NextHeader);
    }

    [Fact]
    public void Parse_MarksIpv4FirstFragment_AsCarryingTheTransportHeader()
    {
        Assert.True(IpPacket.TryParse(GoldenPackets.Bytes(GoldenPackets.V4FirstFragment), out var ip));
        Assert.True(ip.IsFragment);
        Assert.True(ip.IsFirstFragment);
        Assert.True(ip.HasTransportHeader);
        Assert.True(ip.IsHeaderChecksumValid);
        Assert.True(Ipv4Packet.TryParse(ip.Buffer, out var v4));
        Assert.True(v4.MoreFragments);
        Assert.Equal(0x0777, v4.Identification);
        Assert.Equal(0xfb26, v4.HeaderChecksum);
    }

    [Fact]
    public void Parse_MarksIpv4LaterFragment_AsHavingNoTransportHeader()
    {
        Assert.True(IpPacket.TryParse(GoldenPackets.Bytes(GoldenPackets.V4SecondFragment), out var ip));
        Assert.True(ip.IsFragment);
        Assert.False(ip.IsFirstFragment);
        Assert.False(ip.HasTransportHeader);
        Assert.True(ip.IsHeaderChecksumValid);
        Assert.True(Ipv4Packet.TryParse(ip.Buffer, out var v4));
        Assert.Equal(3, v4.FragmentOffset);
        Assert.False(v4.MoreFragments);
        Assert.Equal(0x1b24, v4.HeaderChecksum);
    }

    [Fact]
    public void Parse_FindsProtocolBehindIpv6FragmentHeader()
    {
        Assert.True(IpPacket.TryParse(GoldenPackets.Bytes(GoldenPackets.V6NonFirstFragment), out var ip));
        Assert.True(ip.IsFragment);
        Assert.False(ip.IsFirstFragment);
        Assert.Equal(IpProtocol.Udp, ip.Protocol);
        Assert.Equal(48, ip.HeaderLength);
        Assert.Equal(8, ip.Payload.Length);
    }

    [Fact]
    public void Parse_TreatsIpv6FragmentWithOffsetZero_AsFirst()
    {
        byte[] bytes = GoldenPackets.Bytes(GoldenPackets.V6NonFirstFragment);
        bytes[42] = 0;
        bytes[43] = 1; // offset 0, M set
        Assert.True(IpPacket.TryParse(bytes, out var ip));
        Assert.True(ip.IsFragment);
        Assert.True(ip.IsFirstFragment);
    }

    [Fact]
    public void Parse_TrimsBuffer_ToTotalLength()
    {
        byte[] bytes = [.. GoldenPackets.Bytes(GoldenPackets.V4Echo), 0xAA, 0xBB, 0xCC];
        Assert.True(IpPacket.TryParse(bytes, out var ip));
        Assert.Equal(44, ip.Buffer.Length);
        Assert.Equal(24, ip.Payload.Length);
    }

    [Fact]
    public void Parse_ExposesIpv4Options()
    {
        // IHL 6: one 4-byte option (NOP NOP NOP EOL) before an empty payload.
        byte[] bytes = Convert.FromHexString("46000018000000004011000001020304050607080101010000");
        Assert.True(Ipv4Packet.TryParse(bytes, out var v4));
        v4.UpdateHeaderChecksum();
        Assert.Equal(24, v4.HeaderLength);
        Assert.Equal(new byte[] { 1, 1, 1, 0 }, v4.Options.ToArray());
        Assert.True(v4.IsHeaderChecksumValid);
        Assert.True(Reference.HeaderValid(bytes));
        Assert.True(IpPacket.TryParse(bytes, out var ip));
        Assert.Equal(24, ip.HeaderLength);
        Assert.True(ip.Payload.IsEmpty);
    }

    [Theory]
    [MemberData(nameof(GoldenHex))]
    public void Parse_RejectsEveryTruncation(string hex)
    {
        byte[] bytes = GoldenPackets.Bytes(hex);
        for (int length = 0; length < bytes.Length; length++)
            Assert.False(IpPacket.TryParse(bytes.AsSpan(0, length), out _), $"accepted {length} of {bytes.Length} bytes");
        Assert.True(IpPacket.TryParse(bytes, out _));
    }

    public static TheoryData<string> GoldenHex() => new(GoldenPackets.All);

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(7)]
    [InlineData(15)]
    public void Parse_RejectsUnknownVersion(int version)
    {
        byte[] bytes = GoldenPackets.Bytes(GoldenPackets.V4Echo);
        bytes[0] = (byte)((version << 4) | 5);
        Assert.False(IpPacket.TryParse(bytes, out _));
    }

    [Fact]
    public void Parse_RejectsIpv4ViewOfIpv6Packet_AndViceVersa()
    {
        Assert.False(Ipv4Packet.TryParse(GoldenPackets.Bytes(GoldenPackets.V6Udp), out _));
        Assert.False(Ipv6Packet.TryParse(GoldenPackets.Bytes(GoldenPackets.V4TcpSyn), out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4)]
    public void Parse_RejectsIhlBelowFive(int ihl)
    {
        byte[] bytes = GoldenPackets.Bytes(GoldenPackets.V4Echo);
        bytes[0] = (byte)(0x40 | ihl);
        Assert.False(IpPacket.TryParse(bytes, out _));
        Assert.False(Ipv4Packet.TryParse(bytes, out _));
    }

    [Fact]
    public void Parse_RejectsIhlBeyondTotalLength()
    {
        byte[] bytes = GoldenPackets.Bytes(GoldenPackets.V4Echo);
        bytes[0] = 0x4F; // 60-byte header in a 44-byte packet
        Assert.False(IpPacket.TryParse(bytes, out _));
    }

    [Fact]
    public void Parse_RejectsIpv4TotalLengthBeyondBuffer_OrBelowHeader()
    {
        byte[] bytes = GoldenPackets.Bytes(GoldenPackets.V4Echo);
        bytes[3] = 45;
        Assert.False(IpPacket.TryParse(bytes, out _));
        bytes[3] = 19;
        Assert.False(IpPacket.TryParse(bytes, out _));
    }

    [Fact]
    public void Parse_RejectsIpv6PayloadLengthBeyondBuffer()
    {
        byte[] bytes = GoldenPackets.Bytes(GoldenPackets.V6Udp);
        bytes[5]++;
        Assert.False(IpPacket.TryParse(bytes, out _));
    }

    [Fact]
    public void Parse_RejectsExtensionHeaderRunningPastThePacket()
    {
        byte[] bytes = GoldenPackets.Bytes(GoldenPackets.V6HopByHopUdp);
        bytes[41] = 2; // hop-by-hop claims 24 bytes; only 18 follow
        Assert.False(IpPacket.TryParse(bytes, out _));
    }

    [Fact]
    public void Parse_RejectsChainEndingInsideAnExtensionHeader()
    {
        byte[] bytes = GoldenPackets.Bytes(GoldenPackets.V6HopByHopUdp);
        bytes[40] = IpPacket.DestinationOptions; // the UDP header is now read as destination options
        bytes[49] = 1; // ...claiming 16 bytes where 10 remain
        Assert.False(IpPacket.TryParse(bytes, out _));
    }

    [Fact]
    public void Parse_RejectsTwoFragmentHeaders()
    {
        byte[] bytes = GoldenPackets.Bytes(GoldenPackets.V6NonFirstFragment);
        bytes[40] = IpPacket.Fragment; // the fragment header now points at another fragment header
        Assert.False(IpPacket.TryParse(bytes, out _));
    }

    [Fact]
    public void Parse_AcceptsIpv6WithNoNextHeader()
    {
        byte[] bytes = GoldenPackets.Bytes(GoldenPackets.V6HopByHopUdp);
        bytes[40] = 59; // No Next Header: the rest is opaque
        Assert.True(IpPacket.TryParse(bytes, out var ip));
        Assert.Equal(59, ip.Protocol);
        Assert.Equal(48, ip.HeaderLength);
    }

    [Fact]
    public void TtlSetter_KeepsIpv4HeaderChecksumValid()
    {
        byte[] bytes = GoldenPackets.Bytes(GoldenPackets.V4TcpSyn);
        Assert.True(IpPacket.TryParse(bytes, out var ip));
        for (int ttl = 255; ttl >= 0; ttl -= 17)
        {
            ip.Ttl = (byte)ttl;
            Assert.Equal(ttl, ip.Ttl);
            Assert.True(Reference.HeaderValid(bytes));
        }
    }

    [Fact]
    public void TtlSetter_WritesHopLimit_ForIpv6()
    {
        byte[] bytes = GoldenPackets.Bytes(GoldenPackets.V6Udp);
        Assert.True(IpPacket.TryParse(bytes, out var ip));
        ip.Ttl = 3;
        Assert.Equal(3, bytes[7]);
    }

    [Fact]
    public void UpdateIpv4HeaderChecksum_RepairsACorruptChecksum()
    {
        byte[] bytes = GoldenPackets.Bytes(GoldenPackets.V4Echo);
        bytes[10] ^= 0xFF;
        Assert.True(IpPacket.TryParse(bytes, out var ip)); // a bad checksum is not a parse failure
        Assert.False(ip.IsHeaderChecksumValid);
        ip.UpdateIpv4HeaderChecksum();
        Assert.True(ip.IsHeaderChecksumValid);
        Assert.Equal(GoldenPackets.Bytes(GoldenPackets.V4Echo), bytes);
    }

    private static byte[] Zeroed(ReadOnlySpan<byte> header, int checksumOffset)
    {
        byte[] copy = header.ToArray();
        copy[checksumOffset] = copy[checksumOffset + 1] = 0;
        return copy;
    }
}
