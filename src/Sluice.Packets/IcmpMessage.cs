using System.Buffers.Binary;

namespace Sluice.Packets;

/// <summary>ICMP (RFC 792) and ICMPv6 (RFC 4443) message types.</summary>
public static class IcmpTypes
{
    public const byte V4EchoReply = 0;
    public const byte V4DestinationUnreachable = 3;
    public const byte V4Redirect = 5;
    public const byte V4EchoRequest = 8;
    public const byte V4TimeExceeded = 11;
    public const byte V4ParameterProblem = 12;

    public const byte V6DestinationUnreachable = 1;
    public const byte V6PacketTooBig = 2;
    public const byte V6TimeExceeded = 3;
    public const byte V6ParameterProblem = 4;
    public const byte V6EchoRequest = 128;
    public const byte V6EchoReply = 129;

    /// <summary>True for ICMP error types, which must never be answered with an error (RFC 1122 §3.2.2, RFC 4443 §2.4(e)).</summary>
    public static bool IsError(byte type, bool v4) => v4
        ? type is V4DestinationUnreachable or V4Redirect or V4TimeExceeded or V4ParameterProblem or 4
        : type < 128;
}

/// <summary>Destination-unreachable codes.</summary>
public static class IcmpCodes
{
    public const byte V4NetUnreachable = 0;
    public const byte V4HostUnreachable = 1;
    public const byte V4ProtocolUnreachable = 2;
    public const byte V4PortUnreachable = 3;
    public const byte V4FragmentationNeeded = 4;
    public const byte V4AdministrativelyProhibited = 13;

    public const byte V6NoRoute = 0;
    public const byte V6AdministrativelyProhibited = 1;
    public const byte V6AddressUnreachable = 3;
    public const byte V6PortUnreachable = 4;
}

/// <summary>
/// A view over an ICMP or ICMPv6 message: both share the first 8 bytes (type, code, checksum, rest
/// of header), which <see cref="TryParse"/> requires. Identifier and sequence number are meaningful
/// for echo messages. The echo predicates accept either family's type numbers; the other family
/// leaves those numbers unassigned.
/// </summary>
public readonly ref struct IcmpMessage
{
    public const int HeaderLength = 8;
    internal const int TypeOffset = 0;
    internal const int CodeOffset = 1;
    internal const int ChecksumOffset = 2;
    internal const int IdentifierOffset = 4;
    internal const int SequenceOffset = 6;

    private readonly Span<byte> _buffer;

    private IcmpMessage(Span<byte> buffer) => _buffer = buffer;

    public static bool TryParse(Span<byte> message, out IcmpMessage icmp)
    {
        icmp = default;
        if (message.Length < HeaderLength) return false;
        icmp = new IcmpMessage(message);
        return true;
    }

    public Span<byte> Buffer => _buffer;

    public byte Type => _buffer[TypeOffset];

    public byte Code => _buffer[CodeOffset];

    public ushort Checksum
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_buffer[ChecksumOffset..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_buffer[ChecksumOffset..], value);
    }

    /// <summary>Echo identifier (bytes 4–5). Writes are raw; the checksum is not fixed.</summary>
    public ushort Identifier
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_buffer[IdentifierOffset..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_buffer[IdentifierOffset..], value);
    }

    public ushort SequenceNumber => BinaryPrimitives.ReadUInt16BigEndian(_buffer[SequenceOffset..]);

    /// <summary>Bytes 4–7, whose meaning depends on the type.</summary>
    public Span<byte> RestOfHeader => _buffer[IdentifierOffset..HeaderLength];

    public Span<byte> Payload => _buffer[HeaderLength..];

    public bool IsEchoRequest => Type is IcmpTypes.V4EchoRequest or IcmpTypes.V6EchoRequest;

    public bool IsEchoReply => Type is IcmpTypes.V4EchoReply or IcmpTypes.V6EchoReply;

    public bool IsEcho => IsEchoRequest || IsEchoReply;

    /// <summary>Echo request in the given family only (8 for ICMP, 128 for ICMPv6).</summary>
    public bool IsEchoRequestFor(bool v4) => Type == (v4 ? IcmpTypes.V4EchoRequest : IcmpTypes.V6EchoRequest);

    /// <summary>Echo reply in the given family only (0 for ICMP, 129 for ICMPv6).</summary>
    public bool IsEchoReplyFor(bool v4) => Type == (v4 ? IcmpTypes.V4EchoReply : IcmpTypes.V6EchoReply);
}
