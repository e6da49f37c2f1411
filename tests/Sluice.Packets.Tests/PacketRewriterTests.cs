using System.Buffers.Binary;
using Sluice.Packets;

namespace Sluice.Packets.Tests;

public class PacketRewriterTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Rewrite_KeepsTcpChecksumValid_ForRandomRewrites(bool v4)
    {
        var random = new Random(v4 ? 4 : 6);
        for (int i = 0; i < 2000; i++)
        {
            byte[] payload = new byte[random.Next(0, 1400)];
            random.NextBytes(payload);
            byte[] packet = TcpPackets.Build(RandomData.Address(random, v4), (ushort)random.Next(65536),
                RandomData.Address(random, v4), (ushort)random.Next(65536), TcpFlags.Ack | TcpFlags.Psh, payload: payload);
            NetAddress src = RandomData.Address(random, v4), dst = RandomData.Address(random, v4);
            ushort sp = (ushort)random.Next(65536), dp = (ushort)random.Next(65536);

            Assert.True(PacketRewriter.RewriteTcpUdp(packet, src, sp, dst, dp));

            AssertRewritten(packet, src, sp, dst, dp);
            Assert.Equal(payload, packet[^payload.Length..]);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Rewrite_KeepsUdpChecksumValid_ForRandomRewrites(bool v4)
    {
        var random = new Random(v4 ? 17 : 71);
        byte[] buffer = new byte[2000];
        for (int i = 0; i < 2000; i++)
        {
            byte[] payload = new byte[random.Next(0, 1400)];
            random.NextBytes(payload);
            int length = PacketBuilder.Udp(buffer, RandomData.Address(random, v4), (ushort)random.Next(65536),
                RandomData.Address(random, v4), (ushort)random.Next(65536), payload);
            byte[] packet = buffer[..length];
            NetAddress src = RandomData.Address(random, v4), dst = RandomData.Address(random, v4);
            ushort sp = (ushort)random.Next(65536), dp = (ushort)random.Next(65536);

            Assert.True(PacketRewriter.RewriteTcpUdp(packet, src, sp, dst, dp));

            AssertRewritten(packet, src, sp, dst, dp);
            Assert.NotEqual(0, BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(length - payload.Length - 2)));
        }
    }

    [Fact]
    public void Rewrite_LeavesZeroUdpChecksumZero_ForIpv4()
    {
        var random = new Random(0);
        byte[] buffer = new byte[200];
        for (int i = 0; i < 200; i++)
        {
            int length = PacketBuilder.Udp(buffer, RandomData.Address(random, true), 1, RandomData.Address(random, true), 2, new byte[i % 37]);
            byte[] packet = buffer[..length];
            packet[26] = packet[27] = 0;
            NetAddress src = RandomData.Address(random, true), dst = RandomData.Address(random, true);

            Assert.True(PacketRewriter.RewriteTcpUdp(packet, src, 3, dst, 4));

            Assert.Equal(0, packet[26] | packet[27]);
            Assert.True(Reference.HeaderValid(packet));
            Assert.True(IpPacket.TryParse(packet, out var ip));
            Assert.Equal(dst, ip.Destination);
        }
    }

    [Fact]
    public void Rewrite_KeepsGoldenPacketsValid()
    {
        foreach (string hex in new[] { GoldenPackets.V4TcpSyn, GoldenPackets.V6Udp, GoldenPackets.V6HopByHopUdp })
        {
            byte[] packet = GoldenPackets.Bytes(hex);
            bool v4 = packet[0] >> 4 == 4;
            NetAddress src = NetAddress.Parse(v4 ? "100.64.0.1" : "fd00::1"), dst = NetAddress.Parse(v4 ? "1.1.1.1" : "2606:4700::1111");
            Assert.True(PacketRewriter.RewriteTcpUdp(packet, src, 33333, dst, 8443));
            AssertRewritten(packet, src, 33333, dst, 8443);
        }
    }

    [Fact]
    public void Rewrite_FixesFirstFragment_WithoutTouchingChecksumCoverage()
    {
        // The UDP checksum covers the reassembled datagram; an incremental fix on the first fragment
        // keeps the reassembled datagram valid.
        byte[] first = GoldenPackets.Bytes(GoldenPackets.V4FirstFragment);
        byte[] second = GoldenPackets.Bytes(GoldenPackets.V4SecondFragment);
        NetAddress src = NetAddress.Parse("192.0.2.1"), dst = NetAddress.Parse("198.51.100.2");
        Assert.True(PacketRewriter.RewriteTcpUdp(first, src, 1, dst, 2));
        Assert.True(Reference.HeaderValid(first));

        byte[] udp = [.. first.AsSpan(20).ToArray(), .. second.AsSpan(20).ToArray()];
        byte[] srcBytes = new byte[4], dstBytes = new byte[4];
        src.WriteTo(srcBytes);
        dst.WriteTo(dstBytes);
        Assert.Equal(0, Reference.Checksum([.. Reference.PseudoHeader(srcBytes, dstBytes, IpProtocol.Udp, udp.Length), .. udp]));
    }

    [Fact]
    public void Rewrite_RefusesNonFirstFragments_OtherProtocols_AndMixedFamilies()
    {
        NetAddress v4 = NetAddress.Parse("10.0.0.9"), v6 = NetAddress.Parse("fd00::9");
        foreach (string hex in new[] { GoldenPackets.V4SecondFragment, GoldenPackets.V6NonFirstFragment, GoldenPackets.V4Echo, GoldenPackets.V6Echo })
        {
            byte[] packet = GoldenPackets.Bytes(hex);
            byte[] before = (byte[])packet.Clone();
            bool isV4 = packet[0] >> 4 == 4;
            Assert.False(PacketRewriter.RewriteTcpUdp(packet, isV4 ? v4 : v6, 1, isV4 ? v4 : v6, 2));
            Assert.Equal(before, packet);
        }
        byte[] tcp = GoldenPackets.Bytes(GoldenPackets.V4TcpSyn);
        Assert.False(PacketRewriter.RewriteTcpUdp(tcp, v6, 1, v6, 2));
        Assert.False(PacketRewriter.RewriteTcpUdp(tcp, v4, 1, v6, 2));
        Assert.Equal(GoldenPackets.Bytes(GoldenPackets.V4TcpSyn), tcp);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void RewriteIcmpEcho_KeepsChecksumValid_ForRandomRewrites(bool v4)
    {
        var random = new Random(v4 ? 1 : 58);
        byte[] buffer = new byte[2000];
        for (int i = 0; i < 1000; i++)
        {
            byte[] payload = new byte[random.Next(0, 200)];
            random.NextBytes(payload);
            int length = PacketBuilder.IcmpEcho(buffer, i % 2 == 0, RandomData.Address(random, v4), RandomData.Address(random, v4),
                (ushort)random.Next(65536), (ushort)random.Next(65536), payload);
            byte[] packet = buffer[..length];
            NetAddress src = RandomData.Address(random, v4), dst = RandomData.Address(random, v4);
            ushort id = (ushort)random.Next(65536);

            Assert.True(PacketRewriter.RewriteIcmpEcho(packet, src, dst, id));

            Assert.True(IpPacket.TryParse(packet, out var ip));
            Assert.Equal(src, ip.Source);
            Assert.Equal(dst, ip.Destination);
            Assert.True(IcmpMessage.TryParse(ip.Payload, out var icmp));
            Assert.Equal(id, icmp.Identifier);
            Assert.True(Reference.HeaderValid(packet));
            Assert.True(Reference.TransportValid(packet));
        }
    }

    [Fact]
    public void RewriteIcmpEcho_RefusesNonEchoMessages_AndTcp()
    {
        byte[] echo = GoldenPackets.Bytes(GoldenPackets.V4Echo);
        echo[20] = IcmpTypes.V4DestinationUnreachable;
        Assert.False(PacketRewriter.RewriteIcmpEcho(echo, NetAddress.Parse("1.2.3.4"), NetAddress.Parse("5.6.7.8"), 1));
        byte[] tcp = GoldenPackets.Bytes(GoldenPackets.V4TcpSyn);
        Assert.False(PacketRewriter.RewriteIcmpEcho(tcp, NetAddress.Parse("1.2.3.4"), NetAddress.Parse("5.6.7.8"), 1));
    }

    [Fact]
    public void ClampTcpMss_LowersLargeMss_AndKeepsChecksumValid()
    {
        byte[] packet = GoldenPackets.Bytes(GoldenPackets.V4TcpSyn);
        Assert.True(PacketRewriter.ClampTcpMss(packet, 1360));
        Assert.True(IpPacket.TryParse(packet, out var ip));
        Assert.True(TcpSegment.TryParse(ip.Payload, out var tcp));
        Assert.True(tcp.TryGetMss(out ushort mss));
        Assert.Equal(1360, mss);
        Assert.True(Reference.TransportValid(packet));
    }

    [Fact]
    public void ClampTcpMss_LeavesSmallerMss_AndNonSyn_Unchanged()
    {
        byte[] packet = GoldenPackets.Bytes(GoldenPackets.V4TcpSyn);
        Assert.False(PacketRewriter.ClampTcpMss(packet, 1460));
        Assert.False(PacketRewriter.ClampTcpMss(packet, 9000));
        Assert.Equal(GoldenPackets.Bytes(GoldenPackets.V4TcpSyn), packet);

        byte[] ack = TcpPackets.Build(NetAddress.Parse("10.0.0.1"), 1, NetAddress.Parse("10.0.0.2"), 2, TcpFlags.Ack, options: [2, 4, 0x05, 0xb4]);
        Assert.False(PacketRewriter.ClampTcpMss(ack, 536));
    }

    [Fact]
    public void ClampTcpMss_KeepsChecksumValid_ForRandomMssOnSynAck_Ipv6()
    {
        var random = new Random(1280);
        for (int i = 0; i < 500; i++)
        {
            ushort original = (ushort)random.Next(65536);
            byte[] options = random.Next(2) == 0
                ? [2, 4, (byte)(original >> 8), (byte)original]
                : [1, 2, 4, (byte)(original >> 8), (byte)original, 1, 1, 0];
            byte[] packet = TcpPackets.Build(RandomData.Address(random, false), 1, RandomData.Address(random, false), 2,
                TcpFlags.Syn | TcpFlags.Ack, options: options, payload: new byte[random.Next(0, 5)]);
            ushort max = (ushort)random.Next(65536);

            Assert.Equal(original > max, PacketRewriter.ClampTcpMss(packet, max));

            Assert.True(IpPacket.TryParse(packet, out var ip));
            Assert.True(TcpSegment.TryParse(ip.Payload, out var tcp));
            Assert.True(tcp.TryGetMss(out ushort mss));
            Assert.Equal(Math.Min(original, max), mss);
            Assert.True(Reference.TransportValid(packet));
        }
    }

    [Fact]
    public void Rewrite_DoesNotAllocate()
    {
        byte[] tcp = GoldenPackets.Bytes(GoldenPackets.V4TcpSyn);
        byte[] udp = GoldenPackets.Bytes(GoldenPackets.V6HopByHopUdp);
        NetAddress a4 = NetAddress.Parse("10.0.0.1"), b4 = NetAddress.Parse("10.0.0.2");
        NetAddress a6 = NetAddress.Parse("fd00::1"), b6 = NetAddress.Parse("fd00::2");
        PacketRewriter.RewriteTcpUdp(tcp, a4, 1, b4, 2); // JIT outside the measurement
        PacketRewriter.RewriteTcpUdp(udp, a6, 1, b6, 2);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            PacketRewriter.RewriteTcpUdp(tcp, a4, (ushort)i, b4, 2);
            PacketRewriter.RewriteTcpUdp(udp, a6, (ushort)i, b6, 2);
            PacketRewriter.ClampTcpMss(tcp, 1200);
            Assert.True(IpPacket.TryParse(tcp, out var ip) && FlowKeys.TryGetFlowKey(in ip, out _));
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private static void AssertRewritten(byte[] packet, NetAddress src, ushort sp, NetAddress dst, ushort dp)
    {
        Assert.True(IpPacket.TryParse(packet, out var ip));
        Assert.Equal(src, ip.Source);
        Assert.Equal(dst, ip.Destination);
        Assert.Equal(sp, BinaryPrimitives.ReadUInt16BigEndian(ip.Payload));
        Assert.Equal(dp, BinaryPrimitives.ReadUInt16BigEndian(ip.Payload[2..]));
        Assert.True(Reference.HeaderValid(packet));
        Assert.True(Reference.TransportValid(packet));
        Assert.True(Checksum.VerifyTransport(in ip));
    }
}
