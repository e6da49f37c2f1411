using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Sluice.Core.Outbounds.Transport;

/// <summary>The header of one WebSocket frame as read from a server (RFC 6455 §5.2).</summary>
internal readonly record struct WebSocketFrameHeader(bool Fin, byte Opcode, long PayloadLength);

/// <summary>
/// WebSocket framing (RFC 6455 §5), client side: frames we send are masked (§5.3), frames from the
/// server must not be. No I/O: <see cref="WebSocketStream"/> drives it.
/// </summary>
internal static class WebSocketFrame
{
    public const byte Continuation = 0x0;
    public const byte Text = 0x1;
    public const byte Binary = 0x2;
    public const byte Close = 0x8;
    public const byte Ping = 0x9;
    public const byte Pong = 0xA;

    /// <summary>The longest header: 2 bytes, 8 of extended length, 4 of mask.</summary>
    public const int MaxHeaderLength = 14;

    /// <summary>§5.5: control frames carry at most 125 bytes and are never fragmented.</summary>
    public const int MaxControlPayload = 125;

    /// <summary>
    /// Reads a server frame's header from the start of <paramref name="data"/>: returns its length, 0 when
    /// more bytes are needed, −1 when it breaks RFC 6455 (reserved bits without an extension, a masked
    /// server frame, an unknown opcode, a long or fragmented control frame, a 64-bit length with the top bit set).
    /// </summary>
    public static int TryReadHeader(ReadOnlySpan<byte> data, out WebSocketFrameHeader header)
    {
        header = default;
        if (data.Length < 2) return 0;
        byte b0 = data[0], b1 = data[1];
        if ((b0 & 0x70) != 0 || (b1 & 0x80) != 0) return -1;
        byte opcode = (byte)(b0 & 0x0F);
        bool fin = (b0 & 0x80) != 0;
        if (opcode is > Binary and < Close or > Pong) return -1;
        long length = b1 & 0x7F;
        int used = 2;
        if (length == 126)
        {
            if (data.Length < 4) return 0;
            length = BinaryPrimitives.ReadUInt16BigEndian(data[2..]);
            used = 4;
        }
        else if (length == 127)
        {
            if (data.Length < 10) return 0;
            ulong wide = BinaryPrimitives.ReadUInt64BigEndian(data[2..]);
            if (wide > long.MaxValue) return -1;
            length = (long)wide;
            used = 10;
        }
        if (opcode >= Close && (!fin || length > MaxControlPayload)) return -1;
        header = new WebSocketFrameHeader(fin, opcode, length);
        return used;
    }

    /// <summary>Writes a masked client frame header (FIN set); returns its length.</summary>
    public static int WriteHeader(Span<byte> destination, byte opcode, int payloadLength, uint maskKey)
    {
        destination[0] = (byte)(0x80 | opcode);
        int used;
        if (payloadLength < 126)
        {
            destination[1] = (byte)(0x80 | payloadLength);
            used = 2;
        }
        else if (payloadLength <= ushort.MaxValue)
        {
            destination[1] = 0x80 | 126;
            BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)payloadLength);
            used = 4;
        }
        else
        {
            destination[1] = 0x80 | 127;
            BinaryPrimitives.WriteUInt64BigEndian(destination[2..], (ulong)payloadLength);
            used = 10;
        }
        BinaryPrimitives.WriteUInt32BigEndian(destination[used..], maskKey);
        return used + 4;
    }

    /// <summary>Copies <paramref name="payload"/> to <paramref name="destination"/> XORed with the mask key (§5.3), 8 bytes at a time.</summary>
    public static void MaskCopy(ReadOnlySpan<byte> payload, Span<byte> destination, uint maskKey)
    {
        Span<byte> key = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(key, maskKey);
        BinaryPrimitives.WriteUInt32BigEndian(key[4..], maskKey);
        ulong wide = MemoryMarshal.Read<ulong>(key);
        int i = 0;
        var from = MemoryMarshal.Cast<byte, ulong>(payload);
        var to = MemoryMarshal.Cast<byte, ulong>(destination[..payload.Length]);
        for (; i < from.Length; i++) to[i] = from[i] ^ wide;
        for (i *= 8; i < payload.Length; i++) destination[i] = (byte)(payload[i] ^ key[i & 3]);
    }
}
