using System.Buffers.Binary;

namespace Sluice.Packets;

/// <summary>TCP control bits (RFC 9293 §3.1, RFC 3168 for ECE/CWR).</summary>
[Flags]
public enum TcpFlags : byte
{
    None = 0,
    Fin = 1,
    Syn = 2,
    Rst = 4,
    Psh = 8,
    Ack = 16,
    Urg = 32,
    Ece = 64,
    Cwr = 128,
}

/// <summary>
/// A view over a TCP segment (RFC 9293 §3.1). <see cref="TryParse"/> checks 20 ≤ data offset ≤
/// segment length. Port setters write raw bytes and do not fix the checksum.
/// </summary>
public readonly ref struct TcpSegment
{
    public const int MinHeaderLength = 20;
    internal const int SourcePortOffset = 0;
    internal const int DestinationPortOffset = 2;
    internal const int SequenceOffset = 4;
    internal const int AcknowledgmentOffset = 8;
    internal const int DataOffsetOffset = 12;
    internal const int FlagsOffset = 13;
    internal const int WindowOffset = 14;
    internal const int ChecksumOffset = 16;
    internal const int UrgentPointerOffset = 18;

    private const byte OptionEnd = 0;
    private const byte OptionNop = 1;
    private const byte OptionMss = 2;
    private const int MssOptionLength = 4;

    private readonly Span<byte> _buffer;

    private TcpSegment(Span<byte> buffer) => _buffer = buffer;

    public static bool TryParse(Span<byte> segment, out TcpSegment tcp)
    {
        tcp = default;
        if (segment.Length < MinHeaderLength) return false;
        int dataOffset = (segment[DataOffsetOffset] >> 4) * 4;
        if (dataOffset < MinHeaderLength || dataOffset > segment.Length) return false;
        tcp = new TcpSegment(segment);
        return true;
    }

    public Span<byte> Buffer => _buffer;

    public ushort SourcePort
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_buffer[SourcePortOffset..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_buffer[SourcePortOffset..], value);
    }

    public ushort DestinationPort
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_buffer[DestinationPortOffset..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_buffer[DestinationPortOffset..], value);
    }

    public uint SequenceNumber => BinaryPrimitives.ReadUInt32BigEndian(_buffer[SequenceOffset..]);

    public uint AcknowledgmentNumber => BinaryPrimitives.ReadUInt32BigEndian(_buffer[AcknowledgmentOffset..]);

    /// <summary>Header length in bytes (the data offset field × 4).</summary>
    public int DataOffset => (_buffer[DataOffsetOffset] >> 4) * 4;

    public TcpFlags Flags => (TcpFlags)_buffer[FlagsOffset];

    public bool HasFlag(TcpFlags flag) => (_buffer[FlagsOffset] & (byte)flag) == (byte)flag;

    public ushort Window => BinaryPrimitives.ReadUInt16BigEndian(_buffer[WindowOffset..]);

    public ushort Checksum
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_buffer[ChecksumOffset..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_buffer[ChecksumOffset..], value);
    }

    public ushort UrgentPointer => BinaryPrimitives.ReadUInt16BigEndian(_buffer[UrgentPointerOffset..]);

    public Span<byte> Options => _buffer[MinHeaderLength..DataOffset];

    public Span<byte> Payload => _buffer[DataOffset..];

    /// <summary>Reads the MSS option (kind 2, length 4) if present and well formed.</summary>
    public bool TryGetMss(out ushort mss)
    {
        int offset = FindMssValueOffset();
        mss = offset < 0 ? (ushort)0 : BinaryPrimitives.ReadUInt16BigEndian(_buffer[offset..]);
        return offset >= 0;
    }

    /// <summary>
    /// Rewrites the MSS option and fixes the checksum incrementally (RFC 1624). Returns false and
    /// changes nothing when there is no MSS option.
    /// </summary>
    public bool SetMss(ushort mss)
    {
        int offset = FindMssValueOffset();
        if (offset < 0) return false;
        ushort old = BinaryPrimitives.ReadUInt16BigEndian(_buffer[offset..]);
        BinaryPrimitives.WriteUInt16BigEndian(_buffer[offset..], mss);
        // After an odd number of NOPs the value straddles two checksum words; its contribution to
        // the one's complement sum is then the byte-swapped value.
        bool odd = (offset & 1) != 0;
        Checksum = Packets.Checksum.Update(
            Checksum,
            odd ? BinaryPrimitives.ReverseEndianness(old) : old,
            odd ? BinaryPrimitives.ReverseEndianness(mss) : mss);
        return true;
    }

    /// <summary>Offset (in the segment) of the MSS value, or -1. Stops at a malformed option.</summary>
    private int FindMssValueOffset()
    {
        int end = DataOffset;
        int i = MinHeaderLength;
        while (i < end)
        {
            byte kind = _buffer[i];
            if (kind == OptionEnd) return -1;
            if (kind == OptionNop)
            {
                i++;
                continue;
            }
            if (i + 1 >= end) return -1;
            int length = _buffer[i + 1];
            if (length < 2 || i + length > end) return -1;
            if (kind == OptionMss) return length == MssOptionLength ? i + 2 : -1;
            i += length;
        }
        return -1;
    }
}
