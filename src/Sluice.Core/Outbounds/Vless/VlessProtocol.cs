using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Sluice.Core.Outbounds.Socks;

namespace Sluice.Core.Outbounds.Vless;

/// <summary>
/// VLESS requests (XTLS's VLESS protocol, version 0):
/// version(0) uuid(16) addons-length(1) addons command(1) [port(2) address-type(1) address] — the
/// address is absent for the Mux command. Address types: 1 IPv4, 2 domain (length-prefixed), 3 IPv6
/// (not SOCKS's numbering). The answer is version(0) addons-length(1) addons, then the data.
/// </summary>
internal static class VlessProtocol
{
    public const byte Tcp = 1;
    public const byte Udp = 2;
    public const byte Mux = 3;

    /// <summary>The longest request: 1 + 16 + 1 + 1 + 2 + 1 + 1 + 255.</summary>
    public const int MaxRequestLength = 278;

    /// <summary>A UUID, or Xray's mapping of a custom id (1–30 bytes) to UUIDv5 in the nil namespace; null when neither.</summary>
    public static byte[]? ParseUserId(string text)
    {
        if (Guid.TryParseExact(text, "D", out var guid)) return guid.ToByteArray(bigEndian: true);
        int length = Encoding.UTF8.GetByteCount(text);
        if (length is 0 or > 30) return null;
        byte[] input = new byte[16 + length];
        Encoding.UTF8.GetBytes(text, input.AsSpan(16));
        byte[] hash = SHA1.HashData(input);
        byte[] id = hash[..16];
        id[6] = (byte)((id[6] & 0x0F) | 0x50);
        id[8] = (byte)((id[8] & 0x3F) | 0x80);
        return id;
    }

    /// <summary>Writes a request with <paramref name="addons"/> (empty: no flow; Vision: its flow addon); returns its length.</summary>
    public static int WriteRequest(Span<byte> buffer, ReadOnlySpan<byte> userId, byte command, Destination destination, ReadOnlySpan<byte> addons = default)
    {
        buffer[0] = 0;
        userId.CopyTo(buffer[1..]);
        buffer[17] = (byte)addons.Length;
        addons.CopyTo(buffer[18..]);
        int at = 18 + addons.Length;
        buffer[at] = command;
        if (command == Mux) return at + 1;
        return at + 1 + WriteAddress(buffer[(at + 1)..], destination);
    }

    public static byte[] Request(ReadOnlySpan<byte> userId, byte command, Destination destination, ReadOnlySpan<byte> addons = default)
    {
        Span<byte> buffer = stackalloc byte[MaxRequestLength + addons.Length];
        return buffer[..WriteRequest(buffer, userId, command, destination, addons)].ToArray();
    }

    /// <summary>port(2) type(1) address — the order VLESS and Mux.Cool use.</summary>
    public static int WriteAddress(Span<byte> buffer, Destination destination)
    {
        BinaryPrimitives.WriteUInt16BigEndian(buffer, destination.Port);
        if (SocksAddress.UsesDomain(destination))
        {
            int n = Encoding.ASCII.GetBytes(destination.Domain!, buffer[4..]);
            if (n > 255) throw new OutboundException($"domain name {destination.Domain} is longer than 255 bytes");
            buffer[2] = 2;
            buffer[3] = (byte)n;
            return 4 + n;
        }
        buffer[2] = destination.Address.IsV4 ? (byte)1 : (byte)3;
        return 3 + destination.Address.WriteTo(buffer[3..]);
    }

    /// <summary>Bytes of a port-first address at the start of <paramref name="data"/>: 0 when incomplete, −1 when the type is unknown.</summary>
    public static int AddressLength(ReadOnlySpan<byte> data)
    {
        if (data.Length < 3) return 0;
        int length = data[2] switch { 1 => 3 + 4, 3 => 3 + 16, 2 => data.Length < 4 ? 0 : 4 + data[3], _ => -1 };
        return length > 0 && data.Length < length ? 0 : length;
    }
}

/// <summary>
/// The VLESS answer header (version 0, addons length, addons) taken off the first bytes the server sends,
/// however they are split across reads. Anything but version 0 is refused.
/// </summary>
internal sealed class VlessResponseHeader : IResponsePrefix
{
    private int _state; // 0: version, 1: addons length, 2: skipping addons, 3: done
    private int _addonsLeft;

    public bool Done => _state == 3;

    public int Consume(ReadOnlySpan<byte> data)
    {
        int i = 0;
        while (i < data.Length && _state != 3)
        {
            switch (_state)
            {
                case 0:
                    if (data[i++] != 0) throw new IOException($"the server's answer is not VLESS (version {data[i - 1]}, expected 0)");
                    _state = 1;
                    break;
                case 1:
                    _addonsLeft = data[i++];
                    _state = _addonsLeft == 0 ? 3 : 2;
                    break;
                default:
                    int skip = Math.Min(_addonsLeft, data.Length - i);
                    i += skip;
                    _addonsLeft -= skip;
                    if (_addonsLeft == 0) _state = 3;
                    break;
            }
        }
        return i;
    }
}

/// <summary>VLESS UDP (command 2) for one flow: each datagram is a 2-byte length and the payload, both ways.</summary>
internal sealed class VlessUdpFraming : IDatagramFraming
{
    public int MaxOverhead => 2;

    public int Encode(ReadOnlySpan<byte> payload, Span<byte> frame)
    {
        BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)payload.Length);
        payload.CopyTo(frame[2..]);
        return 2 + payload.Length;
    }

    public int Decode(ReadOnlySpan<byte> data, out int payloadOffset, out int payloadLength, out bool skip)
    {
        skip = false;
        payloadOffset = 2;
        payloadLength = 0;
        if (data.Length < 2) return 0;
        payloadLength = BinaryPrimitives.ReadUInt16BigEndian(data);
        return data.Length < 2 + payloadLength ? 0 : 2 + payloadLength;
    }
}
