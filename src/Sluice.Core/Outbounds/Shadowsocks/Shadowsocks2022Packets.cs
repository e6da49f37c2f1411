using System.Buffers.Binary;
using System.Security.Cryptography;
using Sluice.Core.Outbounds.Socks;

namespace Sluice.Core.Outbounds.Shadowsocks;

/// <summary>
/// SIP022 UDP packets (§3.2, §4.1), client side, as functions over spans:
/// 1. AES methods: [AES-ECB(separate header: session id, u64be packet id)][identity headers]
///    [AEAD(subkey of PSK || session id, nonce = separate header[4..16]) of the body];
/// 2. chacha method: [24-byte random nonce][XChaCha20-Poly1305(PSK) of session id, packet id, body];
/// 3. body to the server: [type 0][u64be time][u16be padding length][padding][address][payload];
///    from the server: [type 1][u64be time][client session id][u16be padding length][padding][address][payload].
/// The channel holds the keys and state; this class only lays bytes out and checks them.
/// </summary>
internal static class Shadowsocks2022Packets
{
    public const int SeparateHeaderSize = 16;
    public const byte ClientPacket = 0;
    public const byte ServerPacket = 1;

    /// <summary>Body header bytes before the address in a client packet: type, time, padding length (no padding sent).</summary>
    public const int ClientBodyHeader = 1 + 8 + 2;

    /// <summary>What a server packet carried, once authenticated and checked (before the replay window).</summary>
    public readonly record struct ServerPacketView(ulong ServerSession, ulong PacketId, int PayloadStart, int PayloadLength, Destination Source);

    /// <summary>Lays out the client body (type, time, no padding, address, payload); returns its length.</summary>
    public static int WriteClientBody(Span<byte> output, long unixSeconds, Destination destination, ReadOnlySpan<byte> payload)
    {
        output[0] = ClientPacket;
        BinaryPrimitives.WriteUInt64BigEndian(output[1..], (ulong)unixSeconds);
        BinaryPrimitives.WriteUInt16BigEndian(output[9..], 0);
        int n = ClientBodyHeader + SocksAddress.Write(output[ClientBodyHeader..], destination);
        payload.CopyTo(output[n..]);
        return n + payload.Length;
    }

    /// <summary>
    /// Checks a decrypted server body (after the separate header, or after session and packet id for
    /// chacha). Null when it is valid, else the reason; <paramref name="payloadStart"/> is relative to
    /// <paramref name="body"/>.
    /// </summary>
    public static string? CheckServerBody(ReadOnlySpan<byte> body, ulong clientSession, long nowUnixSeconds,
        out int payloadStart, out Destination source)
    {
        payloadStart = 0;
        source = default;
        const int fixedPart = 1 + 8 + 8 + 2;
        if (body.Length < fixedPart) return "a server packet too short for its header";
        if (body[0] != ServerPacket) return $"a packet of type {body[0]}, not a server packet (1): reflected or forged";
        string? skew = Shadowsocks2022Headers.CheckTimestamp(BinaryPrimitives.ReadUInt64BigEndian(body[1..]), nowUnixSeconds);
        if (skew is not null) return skew;
        if (BinaryPrimitives.ReadUInt64BigEndian(body[9..]) != clientSession) return "a server packet for another client session";
        int padding = BinaryPrimitives.ReadUInt16BigEndian(body[17..]);
        if (fixedPart + padding > body.Length) return "a server packet whose padding runs past its end";
        int address = SocksAddress.TryRead(body[(fixedPart + padding)..], out source);
        if (address <= 0) return "a server packet without a valid address";
        payloadStart = fixedPart + padding + address;
        return null;
    }

    /// <summary>
    /// AES methods: decrypts the separate header in place with <paramref name="headerCipher"/> (the user
    /// PSK) and returns (server session, packet id); false when the packet is shorter than a header and a tag.
    /// </summary>
    public static bool TryReadSeparateHeader(Aes headerCipher, Span<byte> packet, out ulong session, out ulong packetId)
    {
        session = packetId = 0;
        if (packet.Length < SeparateHeaderSize + ShadowsocksMethod.TagSize) return false;
        headerCipher.DecryptEcb(packet[..SeparateHeaderSize], packet[..SeparateHeaderSize], PaddingMode.None);
        session = BinaryPrimitives.ReadUInt64BigEndian(packet);
        packetId = BinaryPrimitives.ReadUInt64BigEndian(packet[8..]);
        return true;
    }
}
