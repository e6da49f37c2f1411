using System.Buffers.Binary;
using Sluice.Packets;

namespace Sluice.Packets.Tests;

/// <summary>
/// TCP packets with the kernel's partial checksum (CHECKSUM_PARTIAL: the field holds the folded pseudo-header
/// sum). Every expectation comes from <see cref="Reference"/> and <see cref="TcpPackets.Build(NetAddress, ushort, NetAddress, ushort, TcpFlags, byte[], byte[], uint, uint)"/>,
/// which checksum a packet built whole, never from the code under test.
/// </summary>
public class PartialChecksumTests
{
    /// <summary>What the kernel hands over: the packet with its TCP checksum field set to the pseudo-header sum.</summary>
    internal static byte[] AsPartial(byte[] whole)
    {
        byte[] packet = (byte[])whole.Clone();
        int start = packet[0] >> 4 == 4 ? 20 : 40;
        int tcpLength = packet.Length - start;
        byte[] pseudo = packet[0] >> 4 == 4
            ? Reference.PseudoHeader(packet.AsSpan(12, 4), packet.AsSpan(16, 4), IpProtocol.Tcp, tcpLength)
            : Reference.PseudoHeader(packet.AsSpan(8, 16), packet.AsSpan(24, 16), IpProtocol.Tcp, tcpLength);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(start + 16), (ushort)~Reference.Checksum(pseudo));
        return packet;
    }

    /// <summary>What the kernel does with a NEEDS_CSUM packet before it goes anywhere: the checksum of the bytes from start on.</summary>
    internal static void CompleteAsTheKernelWould(byte[] packet, int start)
    {
        ushort sum = Reference.Checksum(packet.AsSpan(start));
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(start + 16), sum);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void PartialRewrite_CompletedByTheKernel_EqualsThePacketBuiltWholeWithTheNewAddressesAndPorts(bool v4)
    {
        var random = new Random(v4 ? 41 : 61);
        for (int i = 0; i < 1000; i++)
        {
            byte[] payload = new byte[random.Next(0, i % 10 == 0 ? 65000 : 1500)];
            random.NextBytes(payload);
            NetAddress oldSource = RandomData.Address(random, v4), oldTarget = RandomData.Address(random, v4);
            NetAddress newSource = RandomData.Address(random, v4), newTarget = RandomData.Address(random, v4);
            ushort oldSp = (ushort)random.Next(65536), oldDp = (ushort)random.Next(65536);
            ushort newSp = (ushort)random.Next(65536), newDp = (ushort)random.Next(65536);
            uint sequence = (uint)random.Next();
            byte[] packet = AsPartial(TcpPackets.Build(oldSource, oldSp, oldTarget, oldDp, TcpFlags.Ack, payload: payload, sequence: sequence));
            int start = v4 ? 20 : 40;
            Assert.True(PartialChecksum.IsTcpAt(packet, start));

            Assert.True(PacketRewriter.RewriteTcpUdp(packet, newSource, newSp, newTarget, newDp, checksumPending: true));

            CompleteAsTheKernelWould(packet, start);
            byte[] expected = TcpPackets.Build(newSource, newSp, newTarget, newDp, TcpFlags.Ack, payload: payload, sequence: sequence);
            Assert.Equal(expected, packet);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Complete_GivesTheChecksumOfThePacketBuiltWhole(bool v4)
    {
        var random = new Random(v4 ? 3 : 5);
        for (int i = 0; i < 200; i++)
        {
            byte[] payload = new byte[random.Next(0, 3000)];
            random.NextBytes(payload);
            byte[] whole = TcpPackets.Build(RandomData.Address(random, v4), 1, RandomData.Address(random, v4), 2, TcpFlags.Ack | TcpFlags.Psh, payload: payload);
            byte[] packet = AsPartial(whole);

            PartialChecksum.Complete(packet, v4 ? 20 : 40);

            Assert.Equal(whole, packet);
        }
    }

    [Fact]
    public void IsTcpAt_RefusesOtherProtocols_Fragments_AndAStartThatIsNotTheTcpHeader()
    {
        NetAddress a = NetAddress.Parse("192.0.2.1"), b = NetAddress.Parse("198.51.100.2");
        byte[] tcp = TcpPackets.Build(a, 1, b, 2, TcpFlags.Ack, payload: new byte[100]);
        Assert.True(PartialChecksum.IsTcpAt(tcp, 20));
        Assert.False(PartialChecksum.IsTcpAt(tcp, 24));

        byte[] udp = (byte[])tcp.Clone();
        udp[9] = IpProtocol.Udp;
        Assert.False(PartialChecksum.IsTcpAt(udp, 20));

        byte[] fragment = (byte[])tcp.Clone();
        fragment[6] = 0x20; // more fragments
        Assert.False(PartialChecksum.IsTcpAt(fragment, 20));

        byte[] v6 = TcpPackets.Build(NetAddress.Parse("2001:db8::1"), 1, NetAddress.Parse("2001:db8::2"), 2, TcpFlags.Ack, payload: new byte[10]);
        Assert.True(PartialChecksum.IsTcpAt(v6, 40));
        Assert.False(PartialChecksum.IsTcpAt(v6, 20));
    }
}
