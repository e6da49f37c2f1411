using System.Buffers.Binary;

namespace Sluice.Core.Outbounds.WireGuard;

/// <summary>
/// Wire layout of the four messages (whitepaper §5.4.2–5.4.6). The first 4 bytes are a little-endian
/// type (1 byte type + 3 reserved zero bytes), indices are little-endian, counters little-endian.
/// </summary>
internal static class WireGuardMessages
{
    public const uint InitiationType = 1;
    public const uint ResponseType = 2;
    public const uint CookieReplyType = 3;
    public const uint TransportType = 4;

    // Initiation: type 4 | sender 4 | ephemeral 32 | static 32+16 | timestamp 12+16 | mac1 16 | mac2 16
    public const int InitiationSize = 148;
    public const int InitiationSender = 4;
    public const int InitiationEphemeral = 8;
    public const int InitiationStatic = 40;
    public const int InitiationTimestamp = 88;
    public const int InitiationMac1 = 116;
    public const int InitiationMac2 = 132;

    // Response: type 4 | sender 4 | receiver 4 | ephemeral 32 | empty 0+16 | mac1 16 | mac2 16
    public const int ResponseSize = 92;
    public const int ResponseSender = 4;
    public const int ResponseReceiver = 8;
    public const int ResponseEphemeral = 12;
    public const int ResponseEmpty = 44;
    public const int ResponseMac1 = 60;
    public const int ResponseMac2 = 76;

    // Cookie reply: type 4 | receiver 4 | nonce 24 | cookie 16+16
    public const int CookieReplySize = 64;
    public const int CookieReplyReceiver = 4;
    public const int CookieReplyNonce = 8;
    public const int CookieReplyCookie = 32;

    // Transport: type 4 | receiver 4 | counter 8 | packet (padded) + 16
    public const int TransportHeaderSize = 16;
    public const int TransportReceiver = 4;
    public const int TransportCounter = 8;
    public const int TransportMinSize = TransportHeaderSize + NoiseCrypto.TagSize;
    public const int KeepaliveSize = TransportMinSize;

    public static uint TypeOf(ReadOnlySpan<byte> message) =>
        message.Length < 4 ? 0 : BinaryPrimitives.ReadUInt32LittleEndian(message);

    public static uint ReadIndex(ReadOnlySpan<byte> message, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(message[offset..]);

    public static void WriteHeader(Span<byte> message, uint type) => BinaryPrimitives.WriteUInt32LittleEndian(message, type);

    public static void WriteIndex(Span<byte> message, int offset, uint index) => BinaryPrimitives.WriteUInt32LittleEndian(message[offset..], index);
}
