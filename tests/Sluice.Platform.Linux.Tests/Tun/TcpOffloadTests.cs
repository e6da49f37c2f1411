using System.Buffers.Binary;
using Sluice.Core.Tun;
using Sluice.Platform.Linux.Tests.Support;
using static Sluice.Platform.Linux.Tests.Support.TcpPacket;

namespace Sluice.Platform.Linux.Tests.Tun;

public class TcpOffloadTests
{
    private static readonly byte[] Timestamps = [1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9];

    /// <summary>What the kernel hands over with TSO: one header, the whole payload, lengths of the whole, a partial checksum.</summary>
    private static byte[] SuperPacket(Flow flow, uint sequence, byte flags, byte[] payload, ushort id = 0x1000)
    {
        var packet = Build(flow, sequence, 77, flags, payload, id, options: Timestamps);
        return packet; // the segmenter recomputes every checksum, so the super-packet's own does not matter
    }

    private static List<byte[]> Segment(byte[] super, int gsoSize)
    {
        Assert.True(TcpSegmenter.TryMeasure(super, gsoSize, out int ip, out int headers, out int segments));
        var result = new List<byte[]>();
        for (int i = 0; i < segments; i++)
        {
            var destination = new byte[headers + gsoSize];
            int n = TcpSegmenter.WriteSegment(super, ip, headers, gsoSize, i, segments, destination);
            result.Add(destination[..n]);
        }
        return result;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void SuperPacket_IsCutIntoGsoSizedSegments_WithValidChecksumsAndFlags(bool v4)
    {
        var flow = v4 ? Flow.V4Flow() : Flow.V6Flow();
        byte[] payload = new byte[10_000];
        new Random(1).NextBytes(payload);
        var super = SuperPacket(flow, 0xFFFFF000, Ack | Psh | Fin | Cwr, payload);

        var segments = Segment(super, 1380);

        Assert.Equal(8, segments.Count); // 7 × 1380 + 340
        Assert.Equal(payload, segments.SelectMany(s => Payload(s).ToArray()).ToArray());
        for (int i = 0; i < segments.Count; i++)
        {
            var s = segments[i];
            Assert.True(ChecksumsValid(s), $"segment {i} has a bad checksum");
            Assert.Equal(unchecked(0xFFFFF000u + (uint)(i * 1380)), Sequence(s)); // wraps past 2^32
            byte expected = (byte)(Ack | (i == 0 ? Cwr : 0) | (i == segments.Count - 1 ? Psh | Fin : 0));
            Assert.Equal(expected, Flags(s));
            if (v4)
            {
                Assert.Equal(s.Length, BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(2)));
                Assert.Equal(0x1000 + i, BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(4)));
            }
            else
            {
                Assert.Equal(s.Length - 40, BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(4)));
            }
            Assert.Equal(Timestamps, s.AsSpan(IpHeader(s) + 20, Timestamps.Length).ToArray());
        }
    }

    [Fact]
    public void SegmentZero_WrittenOverTheSuperPacketLast_IsCorrect()
    {
        var flow = Flow.V4Flow();
        byte[] payload = new byte[4000];
        new Random(2).NextBytes(payload);
        var super = SuperPacket(flow, 1000, Ack | Psh, payload);
        var expected = Segment(super, 1448);

        Assert.True(TcpSegmenter.TryMeasure(super, 1448, out int ip, out int headers, out int count));
        var others = new byte[count][];
        for (int i = count - 1; i >= 1; i--)
        {
            others[i] = new byte[2000];
            others[i] = others[i][..TcpSegmenter.WriteSegment(super, ip, headers, 1448, i, count, others[i])];
        }
        int n = TcpSegmenter.WriteSegment(super, ip, headers, 1448, 0, count, super);
        others[0] = super[..n];
        Assert.Equal(expected, others);
    }

    [Theory]
    [InlineData(true, 16)]   // TCP
    [InlineData(false, 16)]
    public void CompleteChecksum_FromThePseudoHeaderSum_GivesTheFullChecksum(bool v4, int offset)
    {
        var flow = v4 ? Flow.V4Flow() : Flow.V6Flow();
        var packet = Build(flow, 5, 6, Ack, "partial checksum"u8);
        int ip = IpHeader(packet);
        // What the kernel leaves with TUN_F_CSUM: the pseudo-header sum, not complemented.
        var addresses = v4 ? packet.AsSpan(12, 8) : packet.AsSpan(8, 32);
        uint sum = 6u + (uint)(packet.Length - ip);
        for (int i = 0; i < addresses.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(addresses[i..]);
        while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(ip + offset), (ushort)sum);
        Assert.False(ChecksumsValid(packet));

        Assert.True(TcpSegmenter.CompleteChecksum(packet, ip, offset));
        Assert.True(ChecksumsValid(packet));
        Assert.False(TcpSegmenter.CompleteChecksum(packet, packet.Length - 1, offset));
    }

    [Fact]
    public void CompleteChecksum_ForUdp_NeverWritesZero()
    {
        // An all-zero UDP datagram whose checksum comes out 0 must carry 0xFFFF (RFC 768).
        var packet = new byte[28];
        packet[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(26), 0xFFFF); // sum of the rest is 0, so the complement of 0xFFFF is 0
        Assert.True(TcpSegmenter.CompleteChecksum(packet, 20, 6));
        Assert.Equal(0xFFFF, BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(26)));
    }

    [Fact]
    public void TryMeasure_RefusesFragmentsAndOtherProtocols()
    {
        var packet = Build(Flow.V4Flow(), 1, 1, Ack, new byte[3000]);
        Assert.True(TcpSegmenter.TryMeasure(packet, 1000, out _, out _, out int segments));
        Assert.Equal(3, segments);
        Assert.False(TcpSegmenter.TryMeasure(packet, 0, out _, out _, out _));
        var fragment = (byte[])packet.Clone();
        fragment[6] |= 0x20; // MF
        Assert.False(TcpSegmenter.TryMeasure(fragment, 1000, out _, out _, out _));
        var udp = (byte[])packet.Clone();
        udp[9] = 17;
        Assert.False(TcpSegmenter.TryMeasure(udp, 1000, out _, out _, out _));
    }

    /// <summary>Packets laid out one after another in one buffer, as the WireGuard lane hands them over.</summary>
    private static (byte[] Buffer, PacketRange[] Ranges) Lay(IReadOnlyList<byte[]> packets)
    {
        var buffer = new byte[packets.Sum(p => p.Length + 16)];
        var ranges = new PacketRange[packets.Count];
        int at = 7; // odd on purpose: nothing may assume alignment
        for (int i = 0; i < packets.Count; i++)
        {
            packets[i].CopyTo(buffer, at);
            ranges[i] = new PacketRange(at, packets[i].Length);
            at += packets[i].Length + 9;
        }
        return (buffer, ranges);
    }

    /// <summary>What the kernel receives: each group as one packet (GSO head + the others' payloads) and its virtio header.</summary>
    private static List<(byte[] Packet, VirtioNetHeader Header, int Group)> Coalesce(byte[] buffer, PacketRange[] ranges)
    {
        var writes = new List<(byte[], VirtioNetHeader, int)>();
        for (int i = 0, group; i < ranges.Length; i += group)
        {
            group = TcpCoalescer.NextGroup(buffer, ranges, i, out int gsoSize);
            var first = ranges[i];
            if (group == 1)
            {
                writes.Add((buffer.AsSpan(first.Offset, first.Length).ToArray(), default, 1));
                continue;
            }
            var head = buffer.AsSpan(first.Offset, first.Length);
            int headers = IpHeader(head) + (head[IpHeader(head) + 12] >> 4) * 4;
            var whole = new List<byte>(head.ToArray());
            for (int k = 1; k < group; k++) whole.AddRange(buffer.AsSpan(ranges[i + k].Offset + headers, ranges[i + k].Length - headers).ToArray());
            var last = buffer.AsSpan(ranges[i + group - 1].Offset, ranges[i + group - 1].Length);
            var header = TcpCoalescer.PrepareHead(head, whole.Count, (Flags(last) & Psh) != 0, gsoSize);
            head.CopyTo(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(whole));
            writes.Add((whole.ToArray(), header, group));
        }
        return writes;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Coalesced_Segments_AreOneGsoPacket_WithAPartialChecksumOfTheWhole(bool v4)
    {
        var flow = v4 ? Flow.V4Flow() : Flow.V6Flow();
        var packets = Enumerable.Range(0, 5).Select(i => Build(flow, 100 + (uint)(i * 1368), 9, i == 4 ? (byte)(Ack | Psh) : Ack,
            Enumerable.Repeat((byte)i, i == 4 ? 500 : 1368).ToArray(), (ushort)(7 + i), options: Timestamps)).ToList();
        var (buffer, ranges) = Lay(packets);

        var writes = Coalesce(buffer, ranges);

        var (packet, header, group) = Assert.Single(writes);
        Assert.Equal(5, group);
        Assert.Equal(v4 ? VirtioNetHeader.GsoTcpV4 : VirtioNetHeader.GsoTcpV6, header.GsoType);
        Assert.Equal(VirtioNetHeader.NeedsChecksum, header.Flags);
        Assert.Equal(1368, header.GsoSize);
        Assert.Equal(IpHeader(packet), header.ChecksumStart);
        Assert.Equal(16, header.ChecksumOffset);
        Assert.Equal(IpHeader(packet) + 32, header.HeaderLength);
        Assert.Equal(Ack | Psh, Flags(packet));
        // Completing the partial checksum as the kernel would makes the whole a valid (large) packet.
        Assert.True(TcpSegmenter.CompleteChecksum(packet, header.ChecksumStart, header.ChecksumOffset));
        Assert.True(ChecksumsValid(packet));
    }

    [Fact]
    public void Coalescer_KeepsApart_WhatMustNotMerge()
    {
        var flow = Flow.V4Flow();
        var other = Flow.V4Flow(3);
        byte[] full = new byte[1000];
        var packets = new List<byte[]>
        {
            Build(flow, 0, 1, Ack, full),
            Build(flow, 1000, 1, Ack, full),
            Build(flow, 3000, 1, Ack, full),             // a gap in sequence
            Build(flow, 4000, 2, Ack, full),             // another acknowledgment
            Build(flow, 5000, 2, Ack, full, window: 9),  // another window
            Build(other, 6000, 2, Ack, full),            // another flow
            Build(other, 7000, 2, Ack | Fin, full),      // FIN never merges
            Build(flow, 8000, 2, Ack, new byte[500]),
            Build(flow, 8500, 2, Ack, full),             // bigger than the first: cannot follow it
            Build(flow, 9500, 2, Ack, []),               // a pure ACK
            Build(flow, 9500, 2, Ack, full, options: Timestamps),
            Build(flow, 10500, 2, Ack, full, options: [1, 1, 8, 10, 0, 0, 0, 8, 0, 0, 0, 9]), // other option bytes
        };
        var (buffer, ranges) = Lay(packets);

        var groups = Coalesce(buffer, ranges).Select(w => w.Group).ToArray();

        Assert.Equal([2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], groups);
    }

    /// <summary>
    /// Random trains of segments from a few flows, interleaved with other packets: every write the
    /// coalescer makes, cut up again by the segmenter, gives back exactly the packets that went in.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void SegmentOfCoalesce_GivesBackTheOriginalPackets(int seed)
    {
        var random = new Random(seed);
        var flows = new[] { Flow.V4Flow(2), Flow.V4Flow(3), Flow.V6Flow(2), Flow.V6Flow(3) };
        var sequence = flows.Select(_ => (uint)random.NextInt64(0, uint.MaxValue)).ToArray();
        var ids = flows.Select(_ => (ushort)random.Next()).ToArray();
        var packets = new List<byte[]>();
        while (packets.Count < 400)
        {
            int f = random.Next(flows.Length);
            int mss = random.Next(1, 3) == 1 ? 1368 : random.Next(1, 1400);
            int train = random.Next(1, 70);
            for (int i = 0; i < train; i++)
            {
                bool last = i == train - 1;
                int size = last && random.Next(2) == 0 ? random.Next(0, mss + 1) : mss;
                byte flags = last && random.Next(3) == 0 ? (byte)(Ack | Psh) : Ack;
                var payload = new byte[size];
                random.NextBytes(payload);
                packets.Add(Build(flows[f], sequence[f], 42, flags, payload, ids[f]++, options: random.Next(4) == 0 ? null : Timestamps));
                sequence[f] += (uint)size;
            }
            if (random.Next(5) == 0) packets.Add(UdpPacket.BuildV4(new System.Net.IPAddress([10, 0, 0, 1]), 1, new System.Net.IPAddress([10, 0, 0, 2]), 2, new byte[random.Next(0, 100)]));
        }
        var originals = packets.Select(p => (byte[])p.Clone()).ToList();
        var (buffer, ranges) = Lay(packets);

        var again = new List<byte[]>();
        int merged = 0;
        foreach (var (packet, header, group) in Coalesce(buffer, ranges))
        {
            if (group == 1)
            {
                again.Add(packet);
                continue;
            }
            merged += group;
            Assert.True(group <= TcpCoalescer.MaxSegments);
            Assert.True(packet.Length <= 65535 + (header.GsoType == VirtioNetHeader.GsoTcpV6 ? 40 : 0));
            var segments = Segment(packet, header.GsoSize);
            Assert.Equal(group, segments.Count);
            again.AddRange(segments);
        }
        Assert.Equal(originals.Count, again.Count);
        for (int i = 0; i < originals.Count; i++) Assert.True(originals[i].AsSpan().SequenceEqual(again[i]), $"packet {i} differs after the round trip");
        Assert.True(merged > originals.Count / 2, $"only {merged} of {originals.Count} packets were merged");
    }
}
