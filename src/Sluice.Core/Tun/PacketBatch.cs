using System.Runtime.InteropServices;

namespace Sluice.Core.Tun;

/// <summary>
/// A batch of packet slots in one pinned slab. Each slot has <see cref="Headroom"/> bytes in front
/// of the packet so a lane can prepend its headers in place (WireGuard, later) and tailroom for a tag.
/// The TUN reader fills slots; the packet path works on them by index and never copies them.
/// </summary>
public sealed class PacketBatch
{
    public const int Headroom = 64;
    public const int Tailroom = 32;

    private readonly byte[] _slab;
    private readonly int[] _lengths;

    public PacketBatch(int capacity, int maxPacketSize)
    {
        Capacity = capacity;
        SlotSize = Headroom + maxPacketSize + Tailroom;
        _slab = GC.AllocateArray<byte>(capacity * SlotSize, pinned: true);
        _lengths = new int[capacity];
    }

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

    public void SetLength(int index, int length) => _lengths[index] = length;

    public int Length(int index) => _lengths[index];

    /// <summary>The packet held in a slot.</summary>
    public Span<byte> Packet(int index) => _slab.AsSpan(index * SlotSize + Headroom, _lengths[index]);

    /// <summary>Address of a slot's read area, for raw read(2) calls over the pinned slab.</summary>
    public unsafe byte* SlotPointer(int index) =>
        (byte*)Marshal.UnsafeAddrOfPinnedArrayElement(_slab, index * SlotSize + Headroom);
}
