using System.Net;
using System.Runtime.InteropServices;

namespace Sluice.Core.Outbounds;

/// <summary>
/// Batched datagram I/O over one UDP socket, for a lane that moves many datagrams (WireGuard): many
/// datagrams per syscall each way. On Linux: sendmmsg with UDP GSO (UDP_SEGMENT) runs, and recvmmsg
/// with UDP GRO. A platform without it returns null from <see cref="ISocketFactory.CreateBatchIo"/> and
/// the lane sends and receives one datagram per call.
/// </summary>
public interface IDatagramBatchIo : IDisposable
{
    /// <summary>
    /// Sends <paramref name="addresses"/>.Length datagrams to one destination, in order. Datagram i is
    /// <paramref name="lengths"/>[i] bytes at <paramref name="addresses"/>[i], in pinned memory the caller
    /// keeps unchanged for the duration of the call. Called by one thread at a time. A datagram the
    /// socket refuses is dropped, the others still go, then an <see cref="IOException"/> says why.
    /// </summary>
    void Send(ReadOnlySpan<nint> addresses, ReadOnlySpan<int> lengths, SocketAddress destination);

    /// <summary>
    /// Blocks until at least one message is readable, then reads as many as are ready into
    /// <paramref name="batch"/>. A message may hold several datagrams of one sender (UDP GRO): all
    /// <see cref="DatagramBatch.SegmentSize"/> bytes long but the last. Returns the message count, 0 once
    /// the I/O object was disposed. Called by one thread.
    /// </summary>
    int Receive(DatagramBatch batch);
}

/// <summary>
/// Receive buffers for <see cref="IDatagramBatchIo.Receive"/>: one pinned slab of message slots, each
/// with <see cref="Headroom"/> bytes before the data (for in-place work) and room for a full 64 KiB
/// GRO message, and per slot the length, the segment size and the sender.
/// </summary>
public sealed class DatagramBatch
{
    public const int Headroom = 64;

    /// <summary>Largest UDP payload: a GRO message never exceeds it.</summary>
    public const int MaxMessageSize = 65536;

    private readonly byte[] _slab;
    private readonly int[] _lengths;
    private readonly int[] _segmentSizes;
    private readonly SocketAddress[] _sources;

    public DatagramBatch(int capacity, System.Net.Sockets.AddressFamily family)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        SlotSize = Headroom + MaxMessageSize;
        _slab = GC.AllocateUninitializedArray<byte>(capacity * SlotSize, pinned: true);
        _lengths = new int[capacity];
        _segmentSizes = new int[capacity];
        _sources = new SocketAddress[capacity];
        for (int i = 0; i < capacity; i++) _sources[i] = new SocketAddress(family);
    }

    public int Capacity { get; }

    public int SlotSize { get; }

    /// <summary>The slab: message i starts at <see cref="DataOffset"/>(i).</summary>
    public byte[] Buffer => _slab;

    public int DataOffset(int index) => index * SlotSize + Headroom;

    public int Length(int index) => _lengths[index];

    /// <summary>Size of each datagram in the message (the last may be shorter); equals the length for a single datagram.</summary>
    public int SegmentSize(int index) => _segmentSizes[index];

    /// <summary>The sender of message i; its buffer is filled by the receiver (native sockaddr layout).</summary>
    public SocketAddress Source(int index) => _sources[index];

    /// <summary>Set by the receiver. A segment size of 0 or ≥ the length means one datagram.</summary>
    public void Set(int index, int length, int segmentSize)
    {
        _lengths[index] = length;
        _segmentSizes[index] = segmentSize <= 0 || segmentSize > length ? length : segmentSize;
    }

    /// <summary>Address of message i's data, for raw receive calls over the pinned slab.</summary>
    public unsafe byte* DataPointer(int index) => (byte*)Marshal.UnsafeAddrOfPinnedArrayElement(_slab, DataOffset(index));
}
