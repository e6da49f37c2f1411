using System.Buffers.Binary;
using Sluice.Packets;

namespace Sluice.Packets.Tests;

public class ChecksumTests
{
    [Fact]
    public void Compute_MatchesRfc1071Example()
    {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2; the checksum is its complement.
        byte[] data = Convert.FromHexString("0001f203f4f5f6f7");
        Assert.Equal(0xddf2, Checksum.Fold(Checksum.PartialSum(data)));
        Assert.Equal(0x220d, Checksum.Compute(data)); // ~0xddf2
    }

    [Fact]
    public void Compute_MatchesWellKnownIpv4HeaderExample()
    {
        // The header used by Wikipedia's "IPv4 header checksum" article; its checksum is b861.
        byte[] header = Convert.FromHexString("450000730000400040110000c0a80001c0a800c7");
        Assert.Equal(0xb861, Checksum.Compute(header));
    }

    [Fact]
    public void Compute_MatchesReference_ForEveryLengthAndAlignment()
    {
        var random = new Random(1071);
        byte[] buffer = new byte[300];
        random.NextBytes(buffer);
        for (int start = 0; start < 9; start++)
        {
            for (int length = 0; length <= 200; length++)
            {
                var data = buffer.AsSpan(start, length);
                Assert.Equal(Reference.Checksum(data), Checksum.Compute(data));
            }
        }
    }

    [Fact]
    public void Compute_MatchesReference_ForLargeBuffersAtEveryAlignment()
    {
        // Long enough for the vectorised loop, with every tail length behind it.
        var random = new Random(1624);
        byte[] buffer = new byte[70_000];
        random.NextBytes(buffer);
        for (int trial = 0; trial < 200; trial++)
        {
            int start = random.Next(0, 64);
            int length = trial < 64 ? 128 + trial : random.Next(128, buffer.Length - start);
            var data = buffer.AsSpan(start, length);
            Assert.Equal(Reference.Checksum(data), Checksum.Compute(data));
        }
    }

    [Fact]
    public void Compute_HandlesAllOnesData_WithoutOverflow()
    {
        byte[] data = new byte[65535];
        data.AsSpan().Fill(0xFF);
        Assert.Equal(Reference.Checksum(data), Checksum.Compute(data));
    }

    [Fact]
    public void PartialSum_Chains_AcrossEvenSplits()
    {
        var random = new Random(7);
        byte[] data = new byte[151];
        random.NextBytes(data);
        for (int split = 0; split <= data.Length; split += 2)
        {
            uint sum = Checksum.PartialSum(data.AsSpan(split), Checksum.PartialSum(data.AsSpan(0, split)));
            Assert.Equal(Checksum.Compute(data), (ushort)~Checksum.Fold(sum));
        }
    }

    [Fact]
    public void PseudoHeaderTransport_MatchesReference_ForBothFamilies()
    {
        var random = new Random(42);
        for (int i = 0; i < 500; i++)
        {
            bool v4 = i % 2 == 0;
            NetAddress source = RandomData.Address(random, v4), destination = RandomData.Address(random, v4);
            byte[] segment = new byte[random.Next(0, 1500)];
            random.NextBytes(segment);
            byte[] src = new byte[source.Length], dst = new byte[destination.Length];
            source.WriteTo(src);
            destination.WriteTo(dst);
            byte[] all = [.. Reference.PseudoHeader(src, dst, IpProtocol.Tcp, segment.Length), .. segment];
            Assert.Equal(Reference.Checksum(all), Checksum.PseudoHeaderTransport(source, destination, IpProtocol.Tcp, segment));
        }
    }

    [Fact]
    public void Update_MatchesFullRecompute_ForRandomWordChanges()
    {
        var random = new Random(1624);
        for (int i = 0; i < 20_000; i++)
        {
            byte[] data = new byte[random.Next(2, 64) & ~1];
            random.NextBytes(data);
            ushort before = Checksum.Compute(data);
            int offset = random.Next(data.Length / 2) * 2;
            ushort oldValue = BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(offset));
            ushort newValue = (ushort)random.Next(65536);
            BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(offset), newValue);
            Assert.Equal(Checksum.Compute(data), Checksum.Update(before, oldValue, newValue));
        }
    }

    [Fact]
    public void Update32_MatchesFullRecompute_ForRandomFieldChanges()
    {
        var random = new Random(32);
        for (int i = 0; i < 20_000; i++)
        {
            byte[] data = new byte[random.Next(4, 64) & ~1];
            random.NextBytes(data);
            ushort before = Checksum.Compute(data);
            int offset = random.Next((data.Length - 2) / 2) * 2;
            uint oldValue = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(offset));
            uint newValue = (uint)random.NextInt64(1L << 32);
            BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(offset), newValue);
            Assert.Equal(Checksum.Compute(data), Checksum.Update32(before, oldValue, newValue));
        }
    }

    [Fact]
    public void UpdateAddress_MatchesFullRecompute_ForBothFamilies()
    {
        var random = new Random(6);
        for (int i = 0; i < 10_000; i++)
        {
            int length = i % 2 == 0 ? 4 : 16;
            byte[] data = new byte[64];
            random.NextBytes(data);
            ushort before = Checksum.Compute(data);
            int offset = random.Next((data.Length - length) / 2 + 1) * 2;
            byte[] oldAddress = data.AsSpan(offset, length).ToArray();
            byte[] newAddress = new byte[length];
            random.NextBytes(newAddress);
            newAddress.CopyTo(data, offset);
            Assert.Equal(Checksum.Compute(data), Checksum.UpdateAddress(before, oldAddress, newAddress));
        }
    }

    [Fact]
    public void VerifyTransport_AcceptsEveryUnfragmentedGoldenPacket()
    {
        foreach (string hex in new[] { GoldenPackets.V4TcpSyn, GoldenPackets.V6Udp, GoldenPackets.V4Echo, GoldenPackets.V6Echo, GoldenPackets.V6HopByHopUdp })
        {
            byte[] packet = GoldenPackets.Bytes(hex);
            Assert.True(IpPacket.TryParse(packet, out var ip));
            Assert.True(Checksum.VerifyTransport(in ip), hex);
        }
    }

    [Fact]
    public void VerifyTransport_RejectsAFlippedPayloadBit()
    {
        byte[] packet = GoldenPackets.Bytes(GoldenPackets.V6Udp);
        packet[^1] ^= 0x01;
        Assert.True(IpPacket.TryParse(packet, out var ip));
        Assert.False(Checksum.VerifyTransport(in ip));
    }

    [Fact]
    public void VerifyTransport_AcceptsZeroUdpChecksum_OnlyOverIpv4()
    {
        byte[] v4 = new byte[64];
        int length = PacketBuilder.Udp(v4, NetAddress.Parse("10.0.0.1"), 1, NetAddress.Parse("10.0.0.2"), 2, "x"u8);
        v4[26] = v4[27] = 0;
        Assert.True(IpPacket.TryParse(v4.AsSpan(0, length), out var ip4));
        Assert.True(Checksum.VerifyTransport(in ip4));

        byte[] v6 = GoldenPackets.Bytes(GoldenPackets.V6Udp);
        v6[46] = v6[47] = 0;
        Assert.True(IpPacket.TryParse(v6, out var ip6));
        Assert.False(Checksum.VerifyTransport(in ip6));
    }

    [Fact]
    public void VerifyTransport_IsFalse_ForFragments()
    {
        byte[] packet = GoldenPackets.Bytes(GoldenPackets.V4FirstFragment);
        Assert.True(IpPacket.TryParse(packet, out var ip));
        Assert.False(Checksum.VerifyTransport(in ip));
    }
}

internal static class RandomData
{
    public static NetAddress Address(Random random, bool v4)
    {
        byte[] bytes = new byte[v4 ? 4 : 16];
        random.NextBytes(bytes);
        return NetAddress.FromBytes(bytes);
    }
}
