using System.Buffers.Binary;
using System.Security.Cryptography;
using Org.BouncyCastle.Crypto.Digests;
using Sluice.Core.Outbounds.Shadowsocks;

namespace Sluice.Core.Outbounds.Vmess;

/// <summary>
/// One direction of a VMess body (v2fly's VMess description, "data section"): chunks of
/// size(2) ‖ sealed payload ‖ padding, where
/// 1. the payload is sealed with AES-128-GCM under the body key, or ChaCha20-Poly1305 under
///    MD5(key) ‖ MD5(MD5(key)), nonce = 2-byte big-endian chunk count ‖ IV[2..12] (the count wraps at 2^16
///    as v2ray's does); security none leaves it as it is;
/// 2. the size counts the sealed payload and the padding; with chunk masking it is XORed with the next 2
///    bytes of SHAKE128(IV); with authenticated length it is itself sealed (size − 16, 18 bytes) under
///    KDF16(key, "auth_len") with its own count;
/// 3. with global padding, each chunk first takes (next 2 bytes of the SHAKE stream) mod 64 bytes of
///    padding, before its size mask (packets only for security none, whose stream form has none);
/// 4. a chunk with an empty payload ends the direction.
/// Chunks stay within 2048 bytes, v2ray's buffer, so every server version reads them.
/// </summary>
internal sealed class VmessChunkCodec : IDisposable
{
    public const int MaxChunk = 2048;
    private const int MaxPadding = 64;

    private readonly AeadCipher? _aead;
    private readonly AeadCipher? _lengthAead;
    private readonly byte[] _nonce = new byte[12];
    private readonly byte[] _lengthNonce = new byte[12];
    private ushort _count;
    private ushort _lengthCount;
    private readonly ShakeDigest? _shake;
    private readonly bool _padding;

    public VmessChunkCodec(VmessSession session, byte[] key, byte[] iv, bool packets)
    {
        iv.AsSpan(0, 12).CopyTo(_nonce);
        iv.AsSpan(0, 12).CopyTo(_lengthNonce);
        bool authenticatedLength = session.Options.HasFlag(VmessOptions.AuthenticatedLength);
        switch (session.Security)
        {
            case VmessSecurity.Aes128Gcm:
                _aead = new AeadCipher(AeadKind.AesGcm, key);
                if (authenticatedLength) _lengthAead = new AeadCipher(AeadKind.AesGcm, VmessKdf.Derive16(key, VmessKdf.AuthenticatedLength));
                break;
            case VmessSecurity.ChaCha20Poly1305:
                _aead = new AeadCipher(AeadKind.ChaCha20Poly1305, ChaChaKey(key));
                if (authenticatedLength) _lengthAead = new AeadCipher(AeadKind.ChaCha20Poly1305, ChaChaKey(VmessKdf.Derive16(key, VmessKdf.AuthenticatedLength)));
                break;
        }
        if (session.Options.HasFlag(VmessOptions.ChunkMasking))
        {
            _shake = new ShakeDigest(128);
            _shake.BlockUpdate(iv);
        }
        _padding = _shake is not null && session.Options.HasFlag(VmessOptions.GlobalPadding) && (_aead is not null || packets);
    }

    /// <summary>The bytes of a chunk's size field.</summary>
    public int SizeBytes => _lengthAead is null ? 2 : 2 + 16;

    /// <summary>What sealing adds to a payload (the tag).</summary>
    public int Overhead => _aead is null ? 0 : 16;

    /// <summary>The largest payload of one chunk.</summary>
    public int MaxPayload => MaxChunk - SizeBytes - Overhead - (_padding ? MaxPadding : 0);

    /// <summary>The most bytes a chunk of <paramref name="payload"/> bytes takes on the wire.</summary>
    public int MaxChunkLength(int payload) => SizeBytes + payload + Overhead + (_padding ? MaxPadding : 0);

    /// <summary>Seals one chunk (at most <see cref="MaxPayload"/>; empty = the end) into <paramref name="output"/>; returns its length.</summary>
    public int Seal(ReadOnlySpan<byte> payload, Span<byte> output)
    {
        int padding = _padding ? NextMask() % MaxPadding : 0;
        int size = payload.Length + Overhead + padding;
        WriteSize(size, output);
        var body = output[SizeBytes..];
        if (_aead is null) payload.CopyTo(body);
        else _aead.SealWith(NextNonce(_nonce, ref _count), payload, body);
        if (padding > 0) RandomNumberGenerator.Fill(body.Slice(payload.Length + Overhead, padding));
        return SizeBytes + size;
    }

    private void WriteSize(int size, Span<byte> output)
    {
        if (_lengthAead is not null)
        {
            Span<byte> plain = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16BigEndian(plain, (ushort)(size - Overhead));
            _lengthAead.SealWith(NextNonce(_lengthNonce, ref _lengthCount), plain, output);
            return;
        }
        BinaryPrimitives.WriteUInt16BigEndian(output, (ushort)(_shake is null ? size : size ^ NextMask()));
    }

    /// <summary>
    /// Reads a chunk's size field: the bytes that follow it (sealed payload and padding), and how many of them are
    /// padding. −1: the size field does not authenticate, or is smaller than the tag and padding it must hold.
    /// </summary>
    public int ReadSize(ReadOnlySpan<byte> field, out int padding)
    {
        padding = _padding ? NextMask() % MaxPadding : 0;
        int size;
        if (_lengthAead is not null)
        {
            Span<byte> plain = stackalloc byte[2];
            if (!_lengthAead.OpenWith(NextNonce(_lengthNonce, ref _lengthCount), field[..SizeBytes], plain)) return -1;
            size = BinaryPrimitives.ReadUInt16BigEndian(plain) + Overhead;
        }
        else
        {
            size = BinaryPrimitives.ReadUInt16BigEndian(field);
            if (_shake is not null) size ^= NextMask();
        }
        return size < Overhead + padding || size > 0xFFFF ? -1 : size;
    }

    /// <summary>Opens the body of a chunk (<paramref name="size"/> bytes) into <paramref name="plain"/>; the payload length, −1 when it does not authenticate.</summary>
    public int Open(ReadOnlySpan<byte> body, int padding, Span<byte> plain)
    {
        var sealedData = body[..(body.Length - padding)];
        if (_aead is null)
        {
            sealedData.CopyTo(plain);
            return sealedData.Length;
        }
        return _aead.OpenWith(NextNonce(_nonce, ref _count), sealedData, plain) ? sealedData.Length - Overhead : -1;
    }

    private ushort NextMask()
    {
        Span<byte> two = stackalloc byte[2];
        _shake!.Output(two);
        return BinaryPrimitives.ReadUInt16BigEndian(two);
    }

    private static byte[] NextNonce(byte[] nonce, ref ushort count)
    {
        BinaryPrimitives.WriteUInt16BigEndian(nonce, count);
        count++;
        return nonce;
    }

    /// <summary>v2ray's ChaCha20-Poly1305 body key: MD5(key) ‖ MD5(MD5(key)).</summary>
    public static byte[] ChaChaKey(ReadOnlySpan<byte> key)
    {
        byte[] first = MD5.HashData(key);
        return [.. first, .. MD5.HashData(first)];
    }

    public void Dispose()
    {
        _aead?.Dispose();
        _lengthAead?.Dispose();
    }
}
