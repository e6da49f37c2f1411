using System.Runtime.InteropServices;

namespace Sluice.Core.Tun;

/// <summary>
/// A batch of packet slots in one pinned slab. Each slot has <see cref="Headroom"/> bytes in front
/// of the packet so a lane can prepend its headers in place (WireGuard, later) and tailroom for a tag.
/// The TUN reader fills slots; the packet path works on them by index and never copies them.
/// A reader may leave a TCP packet's checksum to be completed (<see cref="ChecksumStart"/>), when the
/// batch's consumer asked for it with <see cref="KeepsPartialChecksums"/>.
/// </summary>
public sealed class PacketBatch
{
    public const int Headroom = 64;
    public const int Tailroom = 32;

    private readonly byte[] _slab;
    private readonly int[] _lengths;
    private readonly int[] _checksumStarts;

    public PacketBatch(int capacity, int maxPacketSize)
    {
        Capacity = capacity;
        SlotSize = Headroom + maxPacketSize + Tailroom;
        _slab = GC.AllocateArray<byte>(capacity * SlotSize, pinned: true);
        _lengths = new int[capacity];
        _checksumStarts = new int[capacity];
    }

    /// <summary>
    /// A batch of at most <paramref name="maxSlots"/> slots for packets of <paramref name="maxPacketSize"/> bytes whose
    /// slab stays within <paramref name="maxBytes"/> (one slot at least).
    /// </summary>
    public static PacketBatch Within(int maxSlots, int maxBytes, int maxPacketSize) =>
        new(Math.Clamp(maxBytes / (Headroom + maxPacketSize + Tailroom), 1, Math.Max(1, maxSlots)), maxPacketSize);

    /// <summary>
    /// Set by the consumer: a reader may hand over TCP packets whose checksum is still partial (the kernel's
    /// CHECKSUM_PARTIAL: the field holds the pseudo-header sum, the sum over the segment is left to whoever
    /// writes it), marked with <see cref="MarkChecksumPending"/>. A consumer that sets it writes such packets
    /// with <see cref="ITunDevice.WriteChecksumPending"/>, or completes them (<see cref="PartialChecksum.Complete"/>)
    /// before anything reads or forwards their bytes elsewhere. Default false: every packet is complete.
    /// </summary>
    public bool KeepsPartialChecksums { get; set; }

    public int Capacity { get; }

    public int SlotSize { get; }

    public int MaxPacketSize => SlotSize - Headroom - Tailroom;

    /// <summary>Packets currently held, set by the reader.</summary>
    public int Count { get; set; }

    /// <summary>The writable area of a slot where a reader places a packet.</summary>
    public Span<byte> SlotForRead(int index) => _slab.AsSpan(index * SlotSize + Headroom, MaxPacketSize);

    public Memory<byte> SlotMemoryForRead(int index) => _slab.AsMemory(index * SlotSize + Headroom, MaxPacketSize);

    /// <summary>The whole slot including headroom and tailroom.</summary>
    public Span<byte> Slot(int index) => _slab.AsSpan(index * SlotSize, SlotSize);

    /// <summary>Sets a slot's packet length; the packet's checksums are complete unless <see cref="MarkChecksumPending"/> follows.</summary>
    public void SetLength(int index, int length)
    {
        _lengths[index] = length;
        _checksumStarts[index] = 0;
    }

    /// <summary>
    /// Marks the TCP packet in a slot (after <see cref="SetLength"/>) as holding a partial checksum: the TCP
    /// header starts at <paramref name="checksumStart"/> and its checksum field holds the pseudo-header sum.
    /// </summary>
    public void MarkChecksumPending(int index, int checksumStart) => _checksumStarts[index] = checksumStart;

    /// <summary>Where the pending checksum's sum starts (the TCP header), or 0 when the packet's checksums are complete.</summary>
    public int ChecksumStart(int index) => _checksumStarts[index];

    public int Length(int index) => _lengths[index];

    /// <summary>The packet held in a slot.</summary>
    public Span<byte> Packet(int index) => _slab.AsSpan(index * SlotSize + Headroom, _lengths[index]);

    /// <summary>Address of a slot's read area, for raw read(2) calls over the pinned slab.</summary>
    public unsafe byte* SlotPointer(int index) =>
        (byte*)Marshal.UnsafeAddrOfPinnedArrayElement(_slab, index * SlotSize + Headroom);
}
