using System.Buffers.Binary;

namespace Sluice.Packets;

/// <summary>
/// A view over a UDP datagram (RFC 768). <see cref="TryParse"/> requires 8 ≤ length field ≤ buffer
/// and trims the view to the length field.
/// </summary>
public readonly ref struct UdpDatagram
{
    public const int HeaderLength = 8;
    internal const int SourcePortOffset = 0;
    internal const int DestinationPortOffset = 2;
    internal const int LengthOffset = 4;
    internal const int ChecksumOffset = 6;

    private readonly Span<byte> _buffer;

    private UdpDatagram(Span<byte> buffer) => _buffer = buffer;

    public static bool TryParse(Span<byte> datagram, out UdpDatagram udp)
    {
        udp = default;
        if (datagram.Length < HeaderLength) return false;
        int length = BinaryPrimitives.ReadUInt16BigEndian(datagram[LengthOffset..]);
        if (length < HeaderLength || length > datagram.Length) return false;
        udp = new UdpDatagram(datagram[..length]);
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

    public ushort Length => BinaryPrimitives.ReadUInt16BigEndian(_buffer[LengthOffset..]);

    /// <summary>0 over IPv4 means "no checksum" (RFC 768).</summary>
    public ushort Checksum
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_buffer[ChecksumOffset..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_buffer[ChecksumOffset..], value);
    }

    public Span<byte> Payload => _buffer[HeaderLength..];
}
