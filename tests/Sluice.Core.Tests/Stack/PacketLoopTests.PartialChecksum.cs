using System.Buffers.Binary;
using Sluice.Core.Stack;
using Sluice.Packets;

namespace Sluice.Core.Tests.Stack;

/// <summary>
/// TCP packets the TUN hands over with the kernel's partial checksum (NEEDS_CSUM): through the NAT they stay
/// partial (only the pseudo-header sum is rewritten) and go back to the kernel so; anywhere else they are
/// completed first. Expected packets are built whole with a naive checksum of the test's own.
/// </summary>
public sealed partial class PacketLoopTests
{
    [Fact]
    public void PartialTcpChecksum_ThroughTheNatBothWays_IsWrittenPartial_AndCompletesToThePacketBuiltWhole()
    {
        _batch.KeepsPartialChecksums = true;
        byte[] upload = new byte[1400], download = new byte[1300];
        new Random(19).NextBytes(upload);
        new Random(20).NextBytes(download);

        // The SYN opens the flow: a new flow's packet is completed (it could be parked or go to an L3 lane).
        _tun.InjectChecksumPending(Partial(Whole(App, 50050, Server, 80, TcpFlags.Syn, 1000, [])), 20);
        _tun.ReadReady(_batch);
        _loop.Process(_batch, _clock.Milliseconds());
        var syn = Next();
        Assert.True(Checksum.VerifyTransport(in syn));
        ushort natPort = TcpOf(syn).SourcePort;
        Assert.Empty(_tun.WrittenChecksumPending);

        // The app's data towards the relay listener, and the listener's data back to the app.
        _tun.InjectChecksumPending(Partial(Whole(App, 50050, Server, 80, TcpFlags.Ack | TcpFlags.Psh, 1001, upload)), 20);
        _tun.InjectChecksumPending(Partial(Whole(App, ListenPort, NatPeer, natPort, TcpFlags.Ack, 5000, download)), 20);
        _tun.ReadReady(_batch);
        _loop.Process(_batch, _clock.Milliseconds());

        Assert.False(_tun.TryTake(out _)); // nothing went out completed
        Assert.Equal(2, _tun.WrittenChecksumPending.Count);
        var (towardsRelay, start1) = _tun.WrittenChecksumPending[0];
        var (towardsApp, start2) = _tun.WrittenChecksumPending[1];
        Assert.Equal((20, 20), (start1, start2));
        CompleteAsTheKernelWould(towardsRelay, start1);
        CompleteAsTheKernelWould(towardsApp, start2);
        Assert.Equal(Whole(NatPeer, natPort, App, ListenPort, TcpFlags.Ack | TcpFlags.Psh, 1001, upload), towardsRelay);
        Assert.Equal(Whole(Server, 80, App, 50050, TcpFlags.Ack, 5000, download), towardsApp);
    }

    [Fact]
    public void PartialTcpChecksum_OfAFlowOnAnL3Lane_IsCompletedBeforeTheLaneSeesIt()
    {
        _batch.KeepsPartialChecksums = true;
        Send(Tcp(App, 50051, Server, 8443, TcpFlags.Syn));
        byte[] payload = new byte[900];
        new Random(21).NextBytes(payload);
        byte[] whole = Whole(App, 50051, Server, 8443, TcpFlags.Ack, 1001, payload);

        _tun.InjectChecksumPending(Partial(whole), 20);
        _tun.ReadReady(_batch);
        _loop.Process(_batch, _clock.Milliseconds());

        Assert.Equal(2, _lane.Sent.Count);
        Assert.Equal(whole, _lane.Sent[1]);
        Assert.Empty(_tun.WrittenChecksumPending);
    }

    [Fact]
    public void PartialTcpChecksum_IsCompletedOnRead_ForABatchThatDoesNotKeepThem()
    {
        Assert.False(_batch.KeepsPartialChecksums);
        Send(Tcp(App, 50052, Server, 80, TcpFlags.Syn));
        ushort natPort = TcpOf(Next()).SourcePort;
        byte[] payload = new byte[700];
        new Random(22).NextBytes(payload);

        _tun.InjectChecksumPending(Partial(Whole(App, 50052, Server, 80, TcpFlags.Ack, 1001, payload)), 20);
        _tun.ReadReady(_batch);
        _loop.Process(_batch, _clock.Milliseconds());

        Assert.Equal(Whole(NatPeer, natPort, App, ListenPort, TcpFlags.Ack, 1001, payload), _tun.Take(TimeSpan.FromSeconds(5)));
        Assert.Empty(_tun.WrittenChecksumPending);
    }

    /// <summary>An IPv4 TCP packet with a 20-byte header (<see cref="PacketLoopTests.Tcp"/>), its checksum computed again by the naive sum below.</summary>
    private static byte[] Whole(NetAddress source, ushort sourcePort, NetAddress destination, ushort destinationPort, TcpFlags flags, uint sequence, byte[] payload)
    {
        var packet = Tcp(source, sourcePort, destination, destinationPort, flags, sequence, payload);
        var tcp = packet.AsSpan(20);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], (ushort)~NaiveSum(PseudoHeader(packet), tcp));
        return packet;
    }

    /// <summary>The same packet as the kernel hands it over with NEEDS_CSUM: the field holds the pseudo-header sum.</summary>
    private static byte[] Partial(byte[] whole)
    {
        byte[] packet = (byte[])whole.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(36), NaiveSum(PseudoHeader(packet), []));
        return packet;
    }

    private static void CompleteAsTheKernelWould(byte[] packet, int start) =>
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(start + 16), (ushort)~NaiveSum([], packet.AsSpan(start)));

    private static byte[] PseudoHeader(byte[] packet)
    {
        var pseudo = new byte[12];
        packet.AsSpan(12, 8).CopyTo(pseudo);
        pseudo[9] = IpProtocol.Tcp;
        BinaryPrimitives.WriteUInt16BigEndian(pseudo.AsSpan(10), (ushort)(packet.Length - 20));
        return pseudo;
    }

    /// <summary>RFC 1071 one's complement sum, byte by byte, folded, not complemented.</summary>
    private static ushort NaiveSum(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second)
    {
        long sum = 0;
        for (int i = 0; i < first.Length; i++) sum += i % 2 == 0 ? first[i] << 8 : first[i];
        for (int i = 0; i < second.Length; i++) sum += i % 2 == 0 ? second[i] << 8 : second[i];
        while (sum > 0xFFFF) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)sum;
    }
}
