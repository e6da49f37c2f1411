using System.Buffers.Binary;
using System.Security.Cryptography;
using Sluice.Core.Outbounds.Vless;

namespace Sluice.Core.Outbounds.Vmess;

/// <summary>
/// The VMess AEAD request header (v2fly's VMess description, "AEAD header"):
/// 1. the instruction: version 1, body IV (16), body key (16), answer byte V, options, padding length (high
///    nibble) and security (low nibble), a zero, the command, [port(2) type(1) address] (absent for Mux),
///    0–15 random padding bytes, FNV-1a 32 of all that;
/// 2. sealed as auth ID (16) ‖ AES-128-GCM(2-byte length) (18) ‖ connection nonce (8) ‖ AES-128-GCM(instruction),
///    where the auth ID is AES-128-ECB(KDF16(cmdKey, "AES Auth ID Encryption"), time(8) ‖ random(4) ‖ CRC32)
///    and both GCM keys and nonces are KDF(cmdKey, label, authId, nonce); the auth ID is their associated data.
/// </summary>
internal static class VmessHeader
{
    public const byte Tcp = 1;
    public const byte Udp = 2;
    public const byte Mux = 3;

    /// <summary>The longest instruction: 1 + 16 + 16 + 5 + 1 + address (≤ 259) + 15 + 4.</summary>
    public const int MaxInstruction = 320;

    /// <summary>What the sealing adds around the instruction: auth ID, sealed length, nonce, tag.</summary>
    public const int SealOverhead = 16 + 18 + 8 + 16;

    /// <summary>Writes the instruction into <paramref name="output"/> and returns its length.</summary>
    public static int WriteInstruction(Span<byte> output, VmessSession session, byte command, Destination destination, ReadOnlySpan<byte> padding)
    {
        output[0] = 1;
        session.RequestIv.CopyTo(output[1..]);
        session.RequestKey.CopyTo(output[17..]);
        output[33] = session.ResponseV;
        output[34] = (byte)session.Options;
        output[35] = (byte)((padding.Length << 4) | (byte)session.Security);
        output[36] = 0;
        output[37] = command;
        int at = 38;
        if (command != Mux) at += VlessProtocol.WriteAddress(output[at..], destination); // the same port-first address as VLESS
        padding.CopyTo(output[at..]);
        at += padding.Length;
        BinaryPrimitives.WriteUInt32BigEndian(output[at..], Fnv1a(output[..at]));
        return at + 4;
    }

    /// <summary>The auth ID for <paramref name="unixTime"/> with 4 random bytes.</summary>
    public static void WriteAuthId(ReadOnlySpan<byte> cmdKey, long unixTime, ReadOnlySpan<byte> random, Span<byte> output)
    {
        Span<byte> plain = stackalloc byte[16];
        BinaryPrimitives.WriteInt64BigEndian(plain, unixTime);
        random[..4].CopyTo(plain[8..]);
        BinaryPrimitives.WriteUInt32BigEndian(plain[12..], Crc32(plain[..12]));
        using var aes = Aes.Create();
        aes.Key = VmessKdf.Derive16(cmdKey, VmessKdf.AuthIdKey);
        aes.EncryptEcb(plain, output, PaddingMode.None);
    }

    /// <summary>Seals <paramref name="instruction"/> behind <paramref name="authId"/> and <paramref name="nonce"/> (8 bytes).</summary>
    public static byte[] Seal(ReadOnlySpan<byte> cmdKey, ReadOnlySpan<byte> instruction, byte[] authId, byte[] nonce)
    {
        byte[] output = new byte[SealOverhead + instruction.Length];
        authId.CopyTo(output, 0);
        Span<byte> length = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(length, (ushort)instruction.Length);
        using (var gcm = new AesGcm(VmessKdf.Derive16(cmdKey, VmessKdf.HeaderLengthKey, authId, nonce), 16))
            gcm.Encrypt(VmessKdf.Derive12(cmdKey, VmessKdf.HeaderLengthIv, authId, nonce), length, output.AsSpan(16, 2), output.AsSpan(18, 16), authId);
        nonce.CopyTo(output, 34);
        using (var gcm = new AesGcm(VmessKdf.Derive16(cmdKey, VmessKdf.HeaderKey, authId, nonce), 16))
            gcm.Encrypt(VmessKdf.Derive12(cmdKey, VmessKdf.HeaderIv, authId, nonce), instruction,
                output.AsSpan(42, instruction.Length), output.AsSpan(42 + instruction.Length, 16), authId);
        return output;
    }

    /// <summary>A whole request header for now, with fresh randomness.</summary>
    public static byte[] Request(byte[] cmdKey, VmessSession session, byte command, Destination destination, long unixTime)
    {
        Span<byte> instruction = stackalloc byte[MaxInstruction];
        Span<byte> padding = stackalloc byte[RandomNumberGenerator.GetInt32(16)];
        RandomNumberGenerator.Fill(padding);
        int n = WriteInstruction(instruction, session, command, destination, padding);
        byte[] authId = new byte[16];
        WriteAuthId(cmdKey, unixTime, RandomNumberGenerator.GetBytes(4), authId);
        return Seal(cmdKey, instruction[..n], authId, RandomNumberGenerator.GetBytes(8));
    }

    public static uint Fnv1a(ReadOnlySpan<byte> data)
    {
        uint hash = 2166136261;
        foreach (byte b in data) hash = (hash ^ b) * 16777619;
        return hash;
    }

    private static readonly uint[] CrcTable = MakeCrcTable();

    /// <summary>CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320).</summary>
    public static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data) crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return ~crc;
    }

    private static uint[] MakeCrcTable()
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        return table;
    }
}

/// <summary>
/// The AEAD response header in front of the server's body: AES-128-GCM(2-byte length) (18 bytes), then
/// AES-128-GCM(V, options, command, command length, command) under keys KDF'd from the response body key
/// and IV. V must be the byte the request chose; a dynamic-port command is read and ignored.
/// </summary>
internal sealed class VmessResponseHeader(VmessSession session) : IResponsePrefix
{
    private const int MaxHeader = 4 + 255;
    private readonly byte[] _buffer = new byte[MaxHeader + 16];
    private int _have;
    private int _need = 18;
    private bool _lengthRead;

    public bool Done { get; private set; }

    public int Consume(ReadOnlySpan<byte> data)
    {
        int used = 0;
        while (!Done && used < data.Length)
        {
            int take = Math.Min(_need - _have, data.Length - used);
            data.Slice(used, take).CopyTo(_buffer.AsSpan(_have));
            _have += take;
            used += take;
            if (_have == _need) Advance();
        }
        return used;
    }

    private void Advance()
    {
        if (!_lengthRead)
        {
            Span<byte> length = stackalloc byte[2];
            Open(VmessKdf.ResponseLengthKey, VmessKdf.ResponseLengthIv, _buffer.AsSpan(0, 18), length, "length");
            int n = BinaryPrimitives.ReadUInt16BigEndian(length);
            if (n < 4 || n > MaxHeader) throw new IOException($"the server's VMess answer header says it is {n} bytes long (expected 4 to {MaxHeader})");
            _lengthRead = true;
            _have = 0;
            _need = n + 16;
            return;
        }
        Span<byte> header = stackalloc byte[_need - 16];
        Open(VmessKdf.ResponseKey, VmessKdf.ResponseIv, _buffer.AsSpan(0, _need), header, "header");
        if (header[0] != session.ResponseV)
            throw new IOException($"the server's VMess answer is for another request (answer byte {header[0]}, expected {session.ResponseV})");
        if (4 + header[3] > header.Length) throw new IOException("the server's VMess answer header is shorter than the command it announces");
        Done = true;
    }

    private void Open(byte[] keyLabel, byte[] ivLabel, ReadOnlySpan<byte> sealedData, Span<byte> plain, string part)
    {
        using var gcm = new AesGcm(VmessKdf.Derive16(session.ResponseKey, keyLabel), 16);
        try
        {
            gcm.Decrypt(VmessKdf.Derive12(session.ResponseIv, ivLabel), sealedData[..^16], sealedData[^16..], plain);
        }
        catch (AuthenticationTagMismatchException)
        {
            throw new IOException($"the server's VMess answer {part} does not authenticate (not a VMess server, or a different security?)");
        }
    }
}
