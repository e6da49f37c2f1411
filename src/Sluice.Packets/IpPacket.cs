using System.Buffers.Binary;

namespace Sluice.Packets;

/// <summary>
/// A version-agnostic view over an IPv4 or IPv6 packet, validated once by <see cref="TryParse"/>:
/// the header rules of <see cref="Ipv4Packet"/>/<see cref="Ipv6Packet"/>, and for IPv6 a bounded
/// walk of the extension headers (hop-by-hop 0, routing 43, fragment 44, destination options 60)
/// to the transport protocol. A non-first fragment has no transport header: its
/// <see cref="Payload"/> is fragment data.
/// </summary>
public readonly ref struct IpPacket
{
    /// <summary>IPv6 extension header numbers walked by <see cref="TryParse"/> (RFC 8200 §4).</summary>
    public const byte HopByHop = 0;
    public const byte Routing = 43;
    public const byte Fragment = 44;
    public const byte DestinationOptions = 60;
    private const int FragmentHeaderLength = 8;

    private readonly Span<byte> _buffer;
    private readonly int _headerLength;
    private readonly byte _protocol;
    private readonly bool _isV4;
    private readonly bool _isFragment;
    private readonly bool _isFirstFragment;

    private IpPacket(Span<byte> buffer, bool isV4, byte protocol, int headerLength, bool isFragment, bool isFirstFragment)
    {
        _buffer = buffer;
        _isV4 = isV4;
        _protocol = protocol;
        _headerLength = headerLength;
        _isFragment = isFragment;
        _isFirstFragment = isFirstFragment;
    }

    /// <summary>Validates <paramref name="buffer"/> as an IP packet; the view is trimmed to its total length.</summary>
    public static bool TryParse(Span<byte> buffer, out IpPacket packet)
    {
        packet = default;
        if (buffer.IsEmpty) return false;
        switch (buffer[0] >> 4)
        {
            case 4:
                if (!Ipv4Packet.TryParse(buffer, out var v4)) return false;
                bool fragment = v4.IsFragment;
                packet = new IpPacket(v4.Buffer, true, v4.Protocol, v4.HeaderLength, fragment, fragment && v4.FragmentOffset == 0);
                return true;
            case 6:
                return Ipv6Packet.TryParse(buffer, out var v6) && TryWalkExtensionHeaders(v6.Buffer, out packet);
            default:
                return false;
        }
    }

    private static bool TryWalkExtensionHeaders(Span<byte> buffer, out IpPacket packet)
    {
        packet = default;
        byte next = buffer[Ipv6Packet.NextHeaderOffset];
        int offset = Ipv6Packet.HeaderLength;
        bool isFragment = false;
        bool isFirstFragment = false;
        // Each extension header is at least 8 bytes, so the walk ends within PayloadLength/8 steps.
        while (true)
        {
            switch (next)
            {
                case HopByHop:
                case Routing:
                case DestinationOptions:
                {
                    if (offset + 2 > buffer.Length) return false;
                    int length = (buffer[offset + 1] + 1) * 8;
                    if (offset + length > buffer.Length) return false;
                    next = buffer[offset];
                    offset += length;
                    break;
                }
                case Fragment:
                {
                    if (isFragment) return false; // RFC 8200 §4.1: at most one fragment header.
                    if (offset + FragmentHeaderLength > buffer.Length) return false;
                    ushort offsetAndFlags = BinaryPrimitives.ReadUInt16BigEndian(buffer[(offset + 2)..]);
                    isFragment = true;
                    isFirstFragment = (offsetAndFlags & 0xFFF8) == 0;
                    next = buffer[offset];
                    offset += FragmentHeaderLength;
                    break;
                }
                default:
                    packet = new IpPacket(buffer, false, next, offset, isFragment, isFirstFragment);
                    return true;
            }
        }
    }

    /// <summary>Exactly the packet (total length bytes).</summary>
    public Span<byte> Buffer => _buffer;

    public IpVersion Version => _isV4 ? IpVersion.V4 : IpVersion.V6;

    public bool IsV4 => _isV4;

    /// <summary>The transport protocol (for IPv6, after the extension headers).</summary>
    public byte Protocol => _protocol;

    /// <summary>Offset of the transport header, IPv4 options and IPv6 extension headers included.</summary>
    public int HeaderLength => _headerLength;

    public int TotalLength => _buffer.Length;

    /// <summary>True for an IPv4 packet with MF set or a non-zero offset, and any IPv6 packet with a fragment header.</summary>
    public bool IsFragment => _isFragment;

    /// <summary>True for a fragment with offset 0 (it carries the transport header); false for non-fragments.</summary>
    public bool IsFirstFragment => _isFirstFragment;

    /// <summary>True unless this is a non-first fragment.</summary>
    public bool HasTransportHeader => !_isFragment || _isFirstFragment;

    /// <summary>The transport segment: <c>Buffer[HeaderLength..]</c>.</summary>
    public Span<byte> Payload => _buffer[_headerLength..];

    public NetAddress Source => NetAddress.FromBytes(SourceBytes);

    public NetAddress Destination => NetAddress.FromBytes(DestinationBytes);

    public ReadOnlySpan<byte> SourceBytes => _isV4
        ? _buffer.Slice(Ipv4Packet.SourceOffset, 4)
        : _buffer.Slice(Ipv6Packet.SourceOffset, 16);

    public ReadOnlySpan<byte> DestinationBytes => _isV4
        ? _buffer.Slice(Ipv4Packet.DestinationOffset, 4)
        : _buffer.Slice(Ipv6Packet.DestinationOffset, 16);

    internal Span<byte> WritableSourceBytes => _isV4
        ? _buffer.Slice(Ipv4Packet.SourceOffset, 4)
        : _buffer.Slice(Ipv6Packet.SourceOffset, 16);

    internal Span<byte> WritableDestinationBytes => _isV4
        ? _buffer.Slice(Ipv4Packet.DestinationOffset, 4)
        : _buffer.Slice(Ipv6Packet.DestinationOffset, 16);

    /// <summary>TTL (IPv4) or hop limit (IPv6); the IPv4 setter fixes the header checksum incrementally.</summary>
    public byte Ttl
    {
        get => _isV4 ? _buffer[Ipv4Packet.TtlOffset] : _buffer[Ipv6Packet.HopLimitOffset];
        set
        {
            if (_isV4)
            {
                Ipv4Packet.TryParse(_buffer, out var v4);
                v4.Ttl = value;
            }
            else
            {
                _buffer[Ipv6Packet.HopLimitOffset] = value;
            }
        }
    }

    /// <summary>True when the IPv4 header checksum is correct; always true for IPv6 (no header checksum).</summary>
    public bool IsHeaderChecksumValid => !_isV4 || Checksum.Fold(Checksum.PartialSum(_buffer[.._headerLength])) == 0xFFFF;

    /// <summary>Recomputes the IPv4 header checksum from scratch; no-op for IPv6.</summary>
    public void UpdateIpv4HeaderChecksum()
    {
        if (!_isV4) return;
        Ipv4Packet.TryParse(_buffer, out var v4);
        v4.UpdateHeaderChecksum();
    }
}
