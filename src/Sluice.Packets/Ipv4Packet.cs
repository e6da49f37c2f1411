using System.Buffers.Binary;

namespace Sluice.Packets;

/// <summary>IP version nibble.</summary>
public enum IpVersion : byte
{
    V4 = 4,
    V6 = 6,
}

/// <summary>
/// A view over an IPv4 packet (RFC 791 §3.1). <see cref="TryParse"/> checks the version, IHL ≥ 5
/// and 20 ≤ header ≤ total length ≤ buffer; it does not require a valid header checksum (see
/// <see cref="IsHeaderChecksumValid"/>). The buffer is trimmed to the total length.
/// </summary>
public readonly ref struct Ipv4Packet
{
    public const int MinHeaderLength = 20;
    internal const int VersionIhlOffset = 0;
    internal const int TosOffset = 1;
    internal const int TotalLengthOffset = 2;
    internal const int IdentificationOffset = 4;
    internal const int FlagsFragmentOffset = 6;
    internal const int TtlOffset = 8;
    internal const int ProtocolOffset = 9;
    internal const int ChecksumOffset = 10;
    internal const int SourceOffset = 12;
    internal const int DestinationOffset = 16;

    /// <summary>Flag bits in the top 3 bits of the flags/fragment-offset word.</summary>
    public const ushort DontFragmentFlag = 0x4000;
    public const ushort MoreFragmentsFlag = 0x2000;
    private const ushort FragmentOffsetMask = 0x1FFF;

    private readonly Span<byte> _buffer;

    private Ipv4Packet(Span<byte> buffer) => _buffer = buffer;

    public static bool TryParse(Span<byte> buffer, out Ipv4Packet packet)
    {
        packet = default;
        if (buffer.Length < MinHeaderLength) return false;
        if (buffer[VersionIhlOffset] >> 4 != 4) return false;
        int headerLength = (buffer[VersionIhlOffset] & 0x0F) * 4;
        if (headerLength < MinHeaderLength) return false;
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(buffer[TotalLengthOffset..]);
        if (totalLength < headerLength || totalLength > buffer.Length) return false;
        packet = new Ipv4Packet(buffer[..totalLength]);
        return true;
    }

    /// <summary>Exactly the packet (total length bytes).</summary>
    public Span<byte> Buffer => _buffer;

    /// <summary>Header length in 32-bit words (5..15).</summary>
    public int Ihl => _buffer[VersionIhlOffset] & 0x0F;

    /// <summary>Header length in bytes.</summary>
    public int HeaderLength => Ihl * 4;

    public byte Tos
    {
        get => _buffer[TosOffset];
        set => SetHeaderByte(TosOffset, value);
    }

    public int TotalLength => _buffer.Length;

    public ushort Identification => BinaryPrimitives.ReadUInt16BigEndian(_buffer[IdentificationOffset..]);

    /// <summary>The 3 flag bits (bit 1 = DF, bit 0 = MF).</summary>
    public byte Flags => (byte)(_buffer[FlagsFragmentOffset] >> 5);

    public bool DontFragment => (FlagsAndOffset & DontFragmentFlag) != 0;

    public bool MoreFragments => (FlagsAndOffset & MoreFragmentsFlag) != 0;

    /// <summary>Fragment offset in 8-byte units, as on the wire.</summary>
    public int FragmentOffset => FlagsAndOffset & FragmentOffsetMask;

    public bool IsFragment => (FlagsAndOffset & (MoreFragmentsFlag | FragmentOffsetMask)) != 0;

    private ushort FlagsAndOffset => BinaryPrimitives.ReadUInt16BigEndian(_buffer[FlagsFragmentOffset..]);

    /// <summary>Time to live; the setter fixes the header checksum incrementally.</summary>
    public byte Ttl
    {
        get => _buffer[TtlOffset];
        set => SetHeaderByte(TtlOffset, value);
    }

    public byte Protocol => _buffer[ProtocolOffset];

    public ushort HeaderChecksum => BinaryPrimitives.ReadUInt16BigEndian(_buffer[ChecksumOffset..]);

    public NetAddress Source => NetAddress.FromBytes(SourceBytes);

    public NetAddress Destination => NetAddress.FromBytes(DestinationBytes);

    public Span<byte> SourceBytes => _buffer.Slice(SourceOffset, 4);

    public Span<byte> DestinationBytes => _buffer.Slice(DestinationOffset, 4);

    public Span<byte> Options => _buffer[MinHeaderLength..HeaderLength];

    public Span<byte> Header => _buffer[..HeaderLength];

    public Span<byte> Payload => _buffer[HeaderLength..];

    public bool IsHeaderChecksumValid => Checksum.Fold(Checksum.PartialSum(Header)) == 0xFFFF;

    /// <summary>Recomputes the header checksum from scratch.</summary>
    public void UpdateHeaderChecksum()
    {
        Span<byte> header = Header;
        BinaryPrimitives.WriteUInt16BigEndian(header[ChecksumOffset..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(header[ChecksumOffset..], Checksum.Compute(header));
    }

    /// <summary>Writes one byte of the header and patches the checksum (RFC 1624) for its word.</summary>
    private void SetHeaderByte(int offset, byte value)
    {
        int wordOffset = offset & ~1;
        ushort oldWord = BinaryPrimitives.ReadUInt16BigEndian(_buffer[wordOffset..]);
        _buffer[offset] = value;
        ushort newWord = BinaryPrimitives.ReadUInt16BigEndian(_buffer[wordOffset..]);
        ushort checksum = Checksum.Update(HeaderChecksum, oldWord, newWord);
        BinaryPrimitives.WriteUInt16BigEndian(_buffer[ChecksumOffset..], checksum);
    }
}
