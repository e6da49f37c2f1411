using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Sluice.Core.Outbounds.Socks;

namespace Sluice.Core.Outbounds.Trojan;

/// <summary>
/// Trojan's request and UDP frames (trojan-gfw's protocol document):
/// request = hex(SHA224(password)) CRLF command address CRLF, where command is 1 (CONNECT) or
/// 3 (UDP ASSOCIATE) and address is a SOCKS5 address (ATYP, address, port);
/// a UDP frame = address, 2-byte length, CRLF, payload — both ways.
/// </summary>
internal static class TrojanProtocol
{
    public const byte Connect = 1;
    public const byte UdpAssociate = 3;

    /// <summary>The hex text of SHA-224(password): 56 bytes.</summary>
    public static byte[] PasswordKey(string password) =>
        Encoding.ASCII.GetBytes(Convert.ToHexStringLower(Sha224(Encoding.UTF8.GetBytes(password))));

    private static byte[] Sha224(byte[] data)
    {
        // .NET has no SHA-224; BouncyCastle's digest is the one dependency that does.
        var digest = new Org.BouncyCastle.Crypto.Digests.Sha224Digest();
        digest.BlockUpdate(data, 0, data.Length);
        byte[] hash = new byte[digest.GetDigestSize()];
        digest.DoFinal(hash, 0);
        return hash;
    }

    public static byte[] Request(byte[] passwordKey, byte command, Destination destination)
    {
        Span<byte> address = stackalloc byte[SocksAddress.MaxLength];
        int n = SocksAddress.Write(address, destination);
        byte[] request = new byte[passwordKey.Length + 2 + 1 + n + 2];
        passwordKey.CopyTo(request, 0);
        request[passwordKey.Length] = (byte)'\r';
        request[passwordKey.Length + 1] = (byte)'\n';
        request[passwordKey.Length + 2] = command;
        address[..n].CopyTo(request.AsSpan(passwordKey.Length + 3));
        request[^2] = (byte)'\r';
        request[^1] = (byte)'\n';
        return request;
    }
}

/// <summary>Trojan UDP frames for one flow: every datagram goes to and comes from its one destination.</summary>
internal sealed class TrojanUdpFraming(Destination destination) : IDatagramFraming
{
    public int MaxOverhead => SocksAddress.MaxLength + 4;

    public int Encode(ReadOnlySpan<byte> payload, Span<byte> frame)
    {
        int n = SocksAddress.Write(frame, destination);
        BinaryPrimitives.WriteUInt16BigEndian(frame[n..], (ushort)payload.Length);
        frame[n + 2] = (byte)'\r';
        frame[n + 3] = (byte)'\n';
        payload.CopyTo(frame[(n + 4)..]);
        return n + 4 + payload.Length;
    }

    public int Decode(ReadOnlySpan<byte> data, out int payloadOffset, out int payloadLength, out bool skip) =>
        TryReadFrame(data, out payloadOffset, out payloadLength, out skip);

    /// <summary>
    /// One frame at the start of <paramref name="data"/>: bytes it spans, 0 when incomplete, −1 when invalid
    /// (a bad address type, or no CRLF after the length). The source address is not checked: the server
    /// answers for the destination the flow was opened to.
    /// </summary>
    public static int TryReadFrame(ReadOnlySpan<byte> data, out int payloadOffset, out int payloadLength, out bool skip)
    {
        payloadOffset = payloadLength = 0;
        skip = false;
        int address = SocksAddress.TryRead(data, out _);
        if (address <= 0) return address;
        if (data.Length < address + 4) return 0;
        int length = BinaryPrimitives.ReadUInt16BigEndian(data[address..]);
        if (data[address + 2] != '\r' || data[address + 3] != '\n') return -1;
        if (data.Length < address + 4 + length) return 0;
        payloadOffset = address + 4;
        payloadLength = length;
        return address + 4 + length;
    }
}
