using System.Buffers.Binary;

namespace Sluice.Packets;

/// <summary>
/// A view over an IPv6 packet's fixed header (RFC 8200 §3). <see cref="TryParse"/> checks the
/// version and that 40 + payload length fits the buffer; the buffer is trimmed to that length.
/// Extension headers are part of <see cref="Payload"/>; <see cref="IpPacket"/> walks them.
/// </summary>
public readonly ref struct Ipv6Packet
{
    public const int HeaderLength = 40;
    internal const int PayloadLengthOffset = 4;
    internal const int NextHeaderOffset = 6;
    internal const int HopLimitOffset = 7;
    internal const int SourceOffset = 8;
    internal const int DestinationOffset = 24;

    private readonly Span<byte> _buffer;

    private Ipv6Packet(Span<byte> buffer) => _buffer = buffer;

    public static bool TryParse(Span<byte> buffer, out Ipv6Packet packet)
    {
        packet = default;
        if (buffer.Length < HeaderLength) return false;
        if (buffer[0] >> 4 != 6) return false;
        int totalLength = HeaderLength + BinaryPrimitives.ReadUInt16BigEndian(buffer[PayloadLengthOffset..]);
        if (totalLength > buffer.Length) return false;
        packet = new Ipv6Packet(buffer[..totalLength]);
        return true;
    }

    /// <summary>Exactly the packet (40 + payload length bytes).</summary>
    public Span<byte> Buffer => _buffer;

    public byte TrafficClass => (byte)(BinaryPrimitives.ReadUInt16BigEndian(_buffer) >> 4);

    /// <summary>The 20-bit flow label.</summary>
    public uint FlowLabel => BinaryPrimitives.ReadUInt32BigEndian(_buffer) & 0xFFFFF;

    public ushort PayloadLength => BinaryPrimitives.ReadUInt16BigEndian(_buffer[PayloadLengthOffset..]);

    /// <summary>The first next-header value (an extension header or the transport protocol).</summary>
    public byte NextHeader => _buffer[NextHeaderOffset];

    public byte HopLimit
    {
        get => _buffer[HopLimitOffset];
        set => _buffer[HopLimitOffset] = value;
    }

    public NetAddress Source => NetAddress.FromBytes(SourceBytes);

    public NetAddress Destination => NetAddress.FromBytes(DestinationBytes);

    public Span<byte> SourceBytes => _buffer.Slice(SourceOffset, 16);

    public Span<byte> DestinationBytes => _buffer.Slice(DestinationOffset, 16);

    /// <summary>Everything after the fixed header, extension headers included.</summary>
    public Span<byte> Payload => _buffer[HeaderLength..];
}
