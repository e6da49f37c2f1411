using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Org.BouncyCastle.Crypto.Digests;
using Org.BouncyCastle.Crypto.Parameters;

namespace Sluice.Core.Tests.Shadowsocks;

/// <summary>
/// A Shadowsocks 2022 server written from SIP022 (and the identity-header spec) for the tests, sharing
/// no code with Sluice's client: BLAKE3 is BouncyCastle's, the AEADs are .NET's, the framing is written
/// out here again. It keeps a salt pool (60 s) and checks timestamps against its own clock.
/// </summary>
internal sealed class Ss2022SpecServer(string method, byte[] userPsk, byte[][]? identityPsks = null)
{
    private readonly int _keySize = method.Contains("aes-128") ? 16 : 32;
    private readonly bool _chacha = method.Contains("chacha");
    private readonly HashSet<string> _salts = [];

    /// <summary>The server's clock (unix seconds).</summary>
    public long Now { get; set; } = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds();

    public static byte[] DeriveKey(string context, byte[] material, int length)
    {
        var digest = new Blake3Digest(length * 8);
        digest.Init(Blake3Parameters.Context(Encoding.UTF8.GetBytes(context)));
        digest.BlockUpdate(material, 0, material.Length);
        var output = new byte[length];
        digest.DoFinal(output, 0);
        return output;
    }

    private static byte[] Hash16(byte[] input)
    {
        var digest = new Blake3Digest(256);
        digest.BlockUpdate(input, 0, input.Length);
        var output = new byte[32];
        digest.DoFinal(output, 0);
        return output[..16];
    }

    private sealed class Aead(bool chacha, byte[] key)
    {
        private readonly byte[] _nonce = new byte[12];

        public byte[] Seal(byte[] plain)
        {
            var output = new byte[plain.Length + 16];
            if (chacha) new ChaCha20Poly1305(key).Encrypt(_nonce, plain, output.AsSpan(0, plain.Length), output.AsSpan(plain.Length));
            else new AesGcm(key, 16).Encrypt(_nonce, plain, output.AsSpan(0, plain.Length), output.AsSpan(plain.Length));
            Next();
            return output;
        }

        public byte[] Open(byte[] sealedData)
        {
            var plain = new byte[sealedData.Length - 16];
            if (chacha) new ChaCha20Poly1305(key).Decrypt(_nonce, sealedData.AsSpan(0, plain.Length), sealedData.AsSpan(plain.Length), plain);
            else new AesGcm(key, 16).Decrypt(_nonce, sealedData.AsSpan(0, plain.Length), sealedData.AsSpan(plain.Length), plain);
            Next();
            return plain;
        }

        private void Next()
        {
            for (int i = 0; i < 12 && ++_nonce[i] == 0; i++)
            {
            }
        }
    }

    /// <summary>What a request carried.</summary>
    public sealed record Request(byte[] Salt, string Target, byte[] InitialPayload, int Padding);

    /// <summary>Reads and checks one request from <paramref name="stream"/>; throws <see cref="InvalidDataException"/> with the reason it is refused.</summary>
    public async Task<(Request Request, Func<byte[], Task> Reply, Func<Task<byte[]?>> ReadChunk)> AcceptAsync(Stream stream)
    {
        byte[] salt = await ReadAsync(stream, _keySize);
        foreach (var identity in identityPsks ?? [])
        {
            byte[] header = await ReadAsync(stream, 16);
            using var aes = Aes.Create();
            aes.Key = DeriveKey("shadowsocks 2022 identity subkey", [.. identity, .. salt], _keySize);
            byte[] plain = aes.DecryptEcb(header, PaddingMode.None);
            byte[] next = identity == identityPsks![^1] ? userPsk : identityPsks[Array.IndexOf(identityPsks, identity) + 1];
            if (!plain.AsSpan().SequenceEqual(Hash16(next))) throw new InvalidDataException("identity header names no known key");
        }
        var reader = new Aead(_chacha, DeriveKey("shadowsocks 2022 session subkey", [.. userPsk, .. salt], _keySize));
        byte[] fixedHeader = reader.Open(await ReadAsync(stream, 11 + 16));
        if (fixedHeader[0] != 0) throw new InvalidDataException("not a client stream");
        long time = (long)BinaryPrimitives.ReadUInt64BigEndian(fixedHeader.AsSpan(1));
        if (Math.Abs(time - Now) > 30) throw new InvalidDataException($"timestamp off by {time - Now} s");
        if (!_salts.Add(Convert.ToHexString(salt))) throw new InvalidDataException("replayed salt");
        int length = BinaryPrimitives.ReadUInt16BigEndian(fixedHeader.AsSpan(9));
        byte[] variable = reader.Open(await ReadAsync(stream, length + 16));
        var (target, at) = ReadAddress(variable, 0);
        int padding = BinaryPrimitives.ReadUInt16BigEndian(variable.AsSpan(at));
        byte[] initial = variable[(at + 2 + padding)..];
        if (padding == 0 && initial.Length == 0) throw new InvalidDataException("neither padding nor payload");
        var request = new Request(salt, target, initial, padding);

        byte[] responseSalt = RandomNumberGenerator.GetBytes(_keySize);
        var writer = new Aead(_chacha, DeriveKey("shadowsocks 2022 session subkey", [.. userPsk, .. responseSalt], _keySize));
        bool first = true;
        async Task Reply(byte[] all)
        {
            for (int at = 0; at < all.Length; at += 0xFFFF) await ReplyChunk(all[at..Math.Min(all.Length, at + 0xFFFF)]);
        }
        async Task ReplyChunk(byte[] payload)
        {
            var output = new MemoryStream();
            var length2 = new byte[2];
            BinaryPrimitives.WriteUInt16BigEndian(length2, (ushort)payload.Length);
            if (first)
            {
                output.Write(responseSalt);
                var header = new byte[1 + 8 + _keySize + 2];
                header[0] = 1;
                BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(1), (ulong)Now);
                salt.CopyTo(header, 9);
                length2.CopyTo(header, 9 + _keySize);
                output.Write(writer.Seal(header));
                first = false;
            }
            else
            {
                output.Write(writer.Seal(length2));
            }
            output.Write(writer.Seal(payload));
            await stream.WriteAsync(output.ToArray());
        }
        async Task<byte[]?> ReadChunk()
        {
            byte[] lengthBytes;
            try
            {
                lengthBytes = reader.Open(await ReadAsync(stream, 2 + 16));
            }
            catch (EndOfStreamException)
            {
                return null;
            }
            return reader.Open(await ReadAsync(stream, BinaryPrimitives.ReadUInt16BigEndian(lengthBytes) + 16));
        }
        return (request, Reply, ReadChunk);
    }

    private static (string Target, int End) ReadAddress(byte[] data, int at) => data[at] switch
    {
        1 => ($"{new System.Net.IPAddress(data.AsSpan(at + 1, 4))}:{BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(at + 5))}", at + 7),
        3 => ($"{Encoding.ASCII.GetString(data, at + 2, data[at + 1])}:{BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(at + 2 + data[at + 1]))}", at + 4 + data[at + 1]),
        4 => ($"[{new System.Net.IPAddress(data.AsSpan(at + 1, 16))}]:{BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(at + 17))}", at + 19),
        _ => throw new InvalidDataException($"address type {data[at]}"),
    };

    private static async Task<byte[]> ReadAsync(Stream stream, int count)
    {
        var buffer = new byte[count];
        await stream.ReadExactlyAsync(buffer);
        return buffer;
    }

    /// <summary>A client UDP packet: its session id, packet id, target and payload; throws when refused.</summary>
    public (ulong Session, ulong PacketId, string Target, byte[] Payload) OpenClientPacket(byte[] packet)
    {
        byte[] body;
        ulong session, packetId;
        if (_chacha)
        {
            var nonce = packet[..24];
            using var x = new Sluice.Core.Outbounds.Shadowsocks.XChaCha20Poly1305(userPsk);
            body = new byte[packet.Length - 24 - 16];
            x.Decrypt(nonce, packet.AsSpan(24, body.Length), packet.AsSpan(24 + body.Length), body);
            session = BinaryPrimitives.ReadUInt64BigEndian(body);
            packetId = BinaryPrimitives.ReadUInt64BigEndian(body.AsSpan(8));
            body = body[16..];
        }
        else
        {
            using var aes = Aes.Create();
            aes.Key = identityPsks is { Length: > 0 } ids ? ids[0] : userPsk;
            byte[] header = aes.DecryptEcb(packet[..16], PaddingMode.None);
            int skip = 16 * (identityPsks?.Length ?? 0);
            session = BinaryPrimitives.ReadUInt64BigEndian(header);
            packetId = BinaryPrimitives.ReadUInt64BigEndian(header.AsSpan(8));
            byte[] key = DeriveKey("shadowsocks 2022 session subkey", [.. userPsk, .. header[..8]], _keySize);
            var sealedBody = packet[(16 + skip)..];
            body = new byte[sealedBody.Length - 16];
            new AesGcm(key, 16).Decrypt(header[4..16], sealedBody.AsSpan(0, body.Length), sealedBody.AsSpan(body.Length), body);
        }
        if (body[0] != 0) throw new InvalidDataException("not a client packet");
        long time = (long)BinaryPrimitives.ReadUInt64BigEndian(body.AsSpan(1));
        if (Math.Abs(time - Now) > 30) throw new InvalidDataException($"timestamp off by {time - Now} s");
        int padding = BinaryPrimitives.ReadUInt16BigEndian(body.AsSpan(9));
        var (target, end) = ReadAddress(body, 11 + padding);
        return (session, packetId, target, body[end..]);
    }

    /// <summary>A server UDP packet to <paramref name="clientSession"/> from <paramref name="source"/> (IPv4).</summary>
    public byte[] SealServerPacket(ulong serverSession, ulong packetId, ulong clientSession, string sourceV4, ushort port, byte[] payload, long? time = null)
    {
        var body = new MemoryStream();
        body.WriteByte(1);
        var u64 = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(u64, (ulong)(time ?? Now));
        body.Write(u64);
        BinaryPrimitives.WriteUInt64BigEndian(u64, clientSession);
        body.Write(u64);
        body.Write([0, 3, 9, 9, 9]); // 3 bytes of padding
        body.WriteByte(1);
        body.Write(System.Net.IPAddress.Parse(sourceV4).GetAddressBytes());
        body.Write([(byte)(port >> 8), (byte)port]);
        body.Write(payload);
        var header = new byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(header, serverSession);
        BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(8), packetId);
        byte[] plain = body.ToArray();
        if (_chacha)
        {
            byte[] nonce = RandomNumberGenerator.GetBytes(24);
            byte[] all = [.. header, .. plain];
            var output = new byte[24 + all.Length + 16];
            nonce.CopyTo(output, 0);
            using var x = new Sluice.Core.Outbounds.Shadowsocks.XChaCha20Poly1305(userPsk);
            x.Encrypt(nonce, all, output.AsSpan(24, all.Length), output.AsSpan(24 + all.Length));
            return output;
        }
        byte[] key = DeriveKey("shadowsocks 2022 session subkey", [.. userPsk, .. header[..8]], _keySize);
        var sealedBody = new byte[plain.Length + 16];
        new AesGcm(key, 16).Encrypt(header[4..16], plain, sealedBody.AsSpan(0, plain.Length), sealedBody.AsSpan(plain.Length));
        using var aes = Aes.Create();
        aes.Key = userPsk;
        return [.. aes.EncryptEcb(header, PaddingMode.None), .. sealedBody];
    }
}
