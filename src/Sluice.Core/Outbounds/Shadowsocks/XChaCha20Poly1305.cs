using System.Buffers.Binary;
using System.Numerics;
using System.Security.Cryptography;

namespace Sluice.Core.Outbounds.Shadowsocks;

/// <summary>
/// HChaCha20 (draft-irtf-cfrg-xchacha-03 §2.2): the ChaCha20 block function without the final
/// addition, over the key and the first 16 nonce bytes; the first and last rows of the state are the
/// 32-byte subkey that XChaCha20 hands to ordinary ChaCha20.
/// </summary>
internal static class HChaCha20
{
    public static void DeriveSubkey(ReadOnlySpan<byte> key, ReadOnlySpan<byte> nonce16, Span<byte> subkey)
    {
        if (key.Length != 32 || nonce16.Length != 16 || subkey.Length != 32) throw new ArgumentException("HChaCha20 takes a 32-byte key, a 16-byte nonce and a 32-byte output");
        Span<uint> s = stackalloc uint[16];
        s[0] = 0x61707865;
        s[1] = 0x3320646e;
        s[2] = 0x79622d32;
        s[3] = 0x6b206574;
        for (int i = 0; i < 8; i++) s[4 + i] = BinaryPrimitives.ReadUInt32LittleEndian(key[(4 * i)..]);
        for (int i = 0; i < 4; i++) s[12 + i] = BinaryPrimitives.ReadUInt32LittleEndian(nonce16[(4 * i)..]);
        for (int round = 0; round < 10; round++)
        {
            QuarterRound(s, 0, 4, 8, 12);
            QuarterRound(s, 1, 5, 9, 13);
            QuarterRound(s, 2, 6, 10, 14);
            QuarterRound(s, 3, 7, 11, 15);
            QuarterRound(s, 0, 5, 10, 15);
            QuarterRound(s, 1, 6, 11, 12);
            QuarterRound(s, 2, 7, 8, 13);
            QuarterRound(s, 3, 4, 9, 14);
        }
        for (int i = 0; i < 4; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(subkey[(4 * i)..], s[i]);
            BinaryPrimitives.WriteUInt32LittleEndian(subkey[(16 + 4 * i)..], s[12 + i]);
        }
        s.Clear();
    }

    private static void QuarterRound(Span<uint> s, int a, int b, int c, int d)
    {
        s[a] += s[b]; s[d] = BitOperations.RotateLeft(s[d] ^ s[a], 16);
        s[c] += s[d]; s[b] = BitOperations.RotateLeft(s[b] ^ s[c], 12);
        s[a] += s[b]; s[d] = BitOperations.RotateLeft(s[d] ^ s[a], 8);
        s[c] += s[d]; s[b] = BitOperations.RotateLeft(s[b] ^ s[c], 7);
    }
}

/// <summary>
/// AEAD_XChaCha20_Poly1305 (draft-irtf-cfrg-xchacha-03 §2): subkey = HChaCha20(key, nonce[0..16]), then
/// the RFC 8439 AEAD with that subkey and the nonce 0x00000000 || nonce[16..24]. .NET has no XChaCha20,
/// so the subkey's ChaCha20Poly1305 object is made per message: the nonce's first 16 bytes change with
/// every message of a Shadowsocks counter (its low bytes come first), so there is no key to keep.
/// </summary>
internal sealed class XChaCha20Poly1305 : IDisposable
{
    public const int NonceSize = 24;
    public const int TagSize = 16;
    private readonly byte[] _key;

    public XChaCha20Poly1305(ReadOnlySpan<byte> key)
    {
        if (key.Length != 32) throw new ArgumentException("XChaCha20-Poly1305 takes a 32-byte key", nameof(key));
        _key = key.ToArray();
    }

    public void Encrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, Span<byte> tag, ReadOnlySpan<byte> associatedData = default)
    {
        Span<byte> subkey = stackalloc byte[32];
        Span<byte> inner = stackalloc byte[12];
        using var aead = Inner(nonce, subkey, inner);
        aead.Encrypt(inner, plaintext, ciphertext, tag, associatedData);
    }

    /// <summary>Throws <see cref="AuthenticationTagMismatchException"/> when the tag does not verify.</summary>
    public void Decrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, Span<byte> plaintext, ReadOnlySpan<byte> associatedData = default)
    {
        Span<byte> subkey = stackalloc byte[32];
        Span<byte> inner = stackalloc byte[12];
        using var aead = Inner(nonce, subkey, inner);
        aead.Decrypt(inner, ciphertext, tag, plaintext, associatedData);
    }

    private ChaCha20Poly1305 Inner(ReadOnlySpan<byte> nonce, Span<byte> subkey, Span<byte> inner)
    {
        if (nonce.Length != NonceSize) throw new ArgumentException("XChaCha20-Poly1305 takes a 24-byte nonce", nameof(nonce));
        HChaCha20.DeriveSubkey(_key, nonce[..16], subkey);
        inner[..4].Clear();
        nonce[16..].CopyTo(inner[4..]);
        var aead = new ChaCha20Poly1305(subkey);
        CryptographicOperations.ZeroMemory(subkey);
        return aead;
    }

    public void Dispose() => CryptographicOperations.ZeroMemory(_key);
}
