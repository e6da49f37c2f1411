using Sluice.Core.Tun;
using Sluice.Platform.Linux.Native;

namespace Sluice.Platform.Linux;

/// <summary>
/// The offload half of the TUN device (IFF_VNET_HDR with TSO): reads that cut TCP super-packets into
/// segments, and batch writes that merge a flow's consecutive segments into one GSO packet.
/// </summary>
public sealed unsafe partial class LinuxTunDevice
{
    /// <summary>
    /// The offload drain: a super-packet left from the previous batch first, then reads. A read lands
    /// with its virtio_net_hdr in the slot's headroom when slots hold any TUN packet (else in the
    /// super-packet buffer, and is copied). A super-packet whose segments fit is cut up in place; one that
    /// does not fit moves to the buffer and fills the rest of the batch, the remainder waits.
    /// </summary>
    private int DrainOffloaded(int fd, PacketBatch batch, int limit)
    {
        var pending = _pending!;
        int count = pending.Emit(batch, 0);
        bool direct = batch.MaxPacketSize >= MaxTunPacket;
        while (count < limit && pending.IsEmpty)
        {
            byte* target = direct ? batch.SlotPointer(count) - VirtioNetHeader.Size : pending.Pointer;
            nuint max = direct ? (nuint)(batch.MaxPacketSize + VirtioNetHeader.Size) : (nuint)pending.Capacity;
            nint n = Libc.Read(fd, target, max);
            if (n < 0)
            {
                if (ReadFailed(count)) continue;
                break;
            }
            if (n == 0) break;
            if (n <= VirtioNetHeader.Size) continue;
            var header = VirtioNetHeader.Read(new ReadOnlySpan<byte>(target, VirtioNetHeader.Size));
            var packet = new Span<byte>(target + VirtioNetHeader.Size, (int)n - VirtioNetHeader.Size);
            if (header.GsoType == VirtioNetHeader.GsoNone)
            {
                // A TCP packet's partial checksum is passed on when the batch's consumer takes it so (the NAT
                // rewrites the pseudo-header sum and writes it back partial): no pass over its bytes.
                int pendingStart = 0;
                if ((header.Flags & VirtioNetHeader.NeedsChecksum) != 0)
                {
                    if (batch.KeepsPartialChecksums && header.ChecksumOffset == VirtioNetHeader.TcpChecksumOffset
                        && Packets.PartialChecksum.IsTcpAt(packet, header.ChecksumStart)) pendingStart = header.ChecksumStart;
                    else if (!TcpSegmenter.CompleteChecksum(packet, header.ChecksumStart, header.ChecksumOffset)) continue;
                }
                if (!direct)
                {
                    if (packet.Length > batch.MaxPacketSize) continue;
                    packet.CopyTo(batch.SlotForRead(count));
                }
                batch.SetLength(count, packet.Length);
                if (pendingStart != 0) batch.MarkChecksumPending(count, pendingStart);
                count++;
                continue;
            }
            if ((header.GsoType & ~VirtioNetHeader.GsoEcn) is not (VirtioNetHeader.GsoTcpV4 or VirtioNetHeader.GsoTcpV6)
                || !TcpSegmenter.TryMeasure(packet, header.GsoSize, out int ipHeaderLength, out int headerLength, out int segments)
                || headerLength + header.GsoSize > batch.MaxPacketSize)
            {
                Interlocked.Increment(ref _readDrops); // UDP GSO is not enabled, so this is a malformed one
                continue;
            }
            _superPackets++;
            if (direct && count + segments <= batch.Capacity)
            {
                // Last to first: segment 0 is rewritten over the super-packet, which the others read.
                for (int i = segments - 1; i >= 0; i--)
                    batch.SetLength(count + i, TcpSegmenter.WriteSegment(packet, ipHeaderLength, headerLength, header.GsoSize, i, segments, batch.SlotForRead(count + i)));
                count += segments;
                continue;
            }
            pending.Hold(packet, ipHeaderLength, headerLength, header.GsoSize, segments);
            count += pending.Emit(batch, count);
        }
        return count;
    }

    private long _readDrops;
    private long _superPackets;
    private long _mergedWrites;

    /// <summary>TSO super-packets read and cut into segments (reader thread; for tests and diagnostics).</summary>
    internal long SuperPackets => Interlocked.Read(ref _superPackets);

    /// <summary>Writes that carried several merged TCP segments as one GSO packet.</summary>
    internal long MergedWrites => Interlocked.Read(ref _mergedWrites);

    /// <summary>Super-packets dropped because they were neither TCP nor well formed.</summary>
    public long ReadDrops => Interlocked.Read(ref _readDrops);

    /// <summary>A TSO super-packet whose segments did not fit the batch, and how far it has been emitted.</summary>
    private sealed class SuperPacket
    {
        private readonly byte[] _buffer = GC.AllocateUninitializedArray<byte>(VirtioNetHeader.Size + MaxTunPacket + 64, pinned: true);
        private int _length, _ipHeaderLength, _headerLength, _gsoSize, _segments, _next;

        public int Capacity => _buffer.Length;

        public byte* Pointer => (byte*)System.Runtime.InteropServices.Marshal.UnsafeAddrOfPinnedArrayElement(_buffer, 0);

        public bool IsEmpty => _next == _segments;

        /// <summary>Takes a super-packet (it may already be in this buffer, after its header).</summary>
        public void Hold(ReadOnlySpan<byte> packet, int ipHeaderLength, int headerLength, int gsoSize, int segments)
        {
            packet.CopyTo(_buffer.AsSpan(VirtioNetHeader.Size));
            (_length, _ipHeaderLength, _headerLength, _gsoSize, _segments, _next) = (packet.Length, ipHeaderLength, headerLength, gsoSize, segments, 0);
        }

        /// <summary>Writes as many of the remaining segments as fit from slot <paramref name="at"/>; returns how many.</summary>
        public int Emit(PacketBatch batch, int at)
        {
            int n = Math.Min(_segments - _next, batch.Capacity - at);
            var packet = _buffer.AsSpan(VirtioNetHeader.Size, _length);
            for (int i = 0; i < n; i++, _next++)
                batch.SetLength(at + i, TcpSegmenter.WriteSegment(packet, _ipHeaderLength, _headerLength, _gsoSize, _next, _segments, batch.SlotForRead(at + i)));
            return n;
        }
    }

    /// <summary>
    /// Writes packets in order; with offloads, runs of one TCP flow's consecutive segments go as one GSO
    /// packet (their first segment's headers are rewritten in <paramref name="buffer"/> for it).
    /// </summary>
    public void WriteBatch(Span<byte> buffer, ReadOnlySpan<PacketRange> packets)
    {
        if (!_vnet)
        {
            foreach (var packet in packets) Write(buffer.Slice(packet.Offset, packet.Length));
            return;
        }
        if (!TryHoldFd()) return;
        try
        {
            byte* header = stackalloc byte[VirtioNetHeader.Size];
            var iov = stackalloc Libc.Iovec[TcpCoalescer.MaxSegments + 1];
            Span<byte> original = stackalloc byte[120]; // the head's IP + TCP headers, at most 60 + 60
            iov[0] = new Libc.Iovec { Base = header, Length = VirtioNetHeader.Size };
            fixed (byte* b = buffer)
            {
                for (int i = 0, group; i < packets.Length; i += group)
                {
                    int gsoSize = 0;
                    group = _mergeRefused ? 1 : TcpCoalescer.NextGroup(buffer, packets, i, out gsoSize);
                    var first = packets[i];
                    iov[1] = new Libc.Iovec { Base = b + first.Offset, Length = (nuint)first.Length };
                    if (group == 1)
                    {
                        default(VirtioNetHeader).Write(new Span<byte>(header, VirtioNetHeader.Size));
                        WriteVector(iov, 2);
                        continue;
                    }
                    var head = buffer.Slice(first.Offset, first.Length);
                    int ipHeaderLength = head[0] >> 4 == 4 ? 20 : 40;
                    int headerLength = ipHeaderLength + (head[ipHeaderLength + 12] >> 4) * 4;
                    var last = packets[i + group - 1];
                    bool psh = (buffer[last.Offset + ipHeaderLength + 13] & (byte)Packets.TcpFlags.Psh) != 0;
                    int total = first.Length;
                    for (int k = 1; k < group; k++)
                    {
                        var next = packets[i + k];
                        iov[1 + k] = new Libc.Iovec { Base = b + next.Offset + headerLength, Length = (nuint)(next.Length - headerLength) };
                        total += next.Length - headerLength;
                    }
                    head[..headerLength].CopyTo(original);
                    TcpCoalescer.PrepareHead(head, total, psh, gsoSize).Write(new Span<byte>(header, VirtioNetHeader.Size));
                    int errno = WriteVector(iov, 1 + group, countFailure: false);
                    if (errno == 0)
                    {
                        Interlocked.Increment(ref _mergedWrites);
                        continue;
                    }
                    if (errno != Libc.EINVAL)
                    {
                        Interlocked.Increment(ref errno == Libc.EAGAIN ? ref _writeDrops : ref _writeErrors);
                        continue;
                    }
                    // EINVAL: the kernel does not take this virtio header. Restore the head, send the segments
                    // one by one, and merge no more (a kernel that refuses one GSO write refuses them all).
                    _mergeRefused = true;
                    original[..headerLength].CopyTo(head);
                    default(VirtioNetHeader).Write(new Span<byte>(header, VirtioNetHeader.Size));
                    for (int k = 0; k < group; k++)
                    {
                        var packet = packets[i + k];
                        iov[1] = new Libc.Iovec { Base = b + packet.Offset, Length = (nuint)packet.Length };
                        WriteVector(iov, 2);
                    }
                }
            }
        }
        finally
        {
            _fd.DangerousRelease();
        }
    }

    private volatile bool _mergeRefused;

    /// <summary>
    /// With offloads: one write with NEEDS_CSUM (csum_start = the TCP header, csum_offset 16), so the kernel takes
    /// the packet as CHECKSUM_PARTIAL, its TCP as verified; without them, completes the checksum and writes.
    /// </summary>
    public void WriteChecksumPending(Span<byte> packet, int checksumStart)
    {
        if (!_vnet || !Packets.PartialChecksum.IsTcpAt(packet, checksumStart))
        {
            if (checksumStart + VirtioNetHeader.TcpChecksumOffset + 2 <= packet.Length) Packets.PartialChecksum.Complete(packet, checksumStart);
            Write(packet);
            return;
        }
        int headerLength = checksumStart + (packet[checksumStart + 12] >> 4) * 4;
        WriteOne(packet, new VirtioNetHeader(VirtioNetHeader.NeedsChecksum, VirtioNetHeader.GsoNone, (ushort)headerLength, 0,
            (ushort)checksumStart, VirtioNetHeader.TcpChecksumOffset));
    }
}
