using System.Buffers.Binary;
using System.Security.Cryptography;
using Org.BouncyCastle.Crypto.Digests;
using Org.BouncyCastle.Crypto.Macs;
using XChaCha20Poly1305 = Org.BouncyCastle.Crypto.Modes.XChaCha20Poly1305;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Math.EC.Rfc7748;

namespace Sluice.Core.Outbounds.WireGuard;

/// <summary>
/// The primitives of the WireGuard whitepaper §5.4 (Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s): HASH is
/// BLAKE2s-256, MAC is keyed BLAKE2s-128, HMAC is HMAC-BLAKE2s (block 64), KDFn is HKDF over it,
/// AEAD is ChaCha20-Poly1305 (RFC 8439), XAEAD is XChaCha20-Poly1305, DH is X25519. Everything here is
/// used by handshakes and cookies only; the data path keeps its own <see cref="ChaCha20Poly1305"/>.
/// </summary>
internal static class NoiseCrypto
{
    public const int KeySize = 32;
    public const int HashSize = 32;
    public const int TagSize = 16;
    public const int MacSize = 16;
    public const int TimestampSize = 12;
    public const int XNonceSize = 24;

    public static ReadOnlySpan<byte> Construction => "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"u8;
    public static ReadOnlySpan<byte> Identifier => "WireGuard v1 zx2c4 Jason@zx2c4.com"u8;
    public static ReadOnlySpan<byte> LabelMac1 => "mac1----"u8;
    public static ReadOnlySpan<byte> LabelCookie => "cookie--"u8;

    /// <summary>Ci := HASH(Construction).</summary>
    public static readonly byte[] InitialChainKey = ComputeHash(Construction, default);

    /// <summary>Hi := HASH(Ci || Identifier).</summary>
    public static readonly byte[] InitialHash = ComputeHash(InitialChainKey, Identifier);

    public static byte[] ComputeHash(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        var output = new byte[HashSize];
        Hash(a, b, output);
        return output;
    }

    /// <summary>output := HASH(a || b); output may alias a or b.</summary>
    public static void Hash(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, Span<byte> output)
    {
        var digest = new Blake2sDigest(256);
        digest.BlockUpdate(a);
        digest.BlockUpdate(b);
        digest.DoFinal(output);
    }

    /// <summary>h := HASH(h || data).</summary>
    public static void MixHash(Span<byte> hash, ReadOnlySpan<byte> data) => Hash(hash, data, hash);

    public static void Hmac(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data, Span<byte> output)
    {
        var hmac = new HMac(new Blake2sDigest(256));
        hmac.Init(new KeyParameter(key));
        hmac.BlockUpdate(data);
        hmac.DoFinal(output);
    }

    /// <summary>
    /// KDF1/2/3 (whitepaper §5.4): τ0 := HMAC(key, input); τ1 := HMAC(τ0, 0x1); τi := HMAC(τ0, τi−1 || i).
    /// Outputs that are empty spans are not written; each output may alias <paramref name="key"/>.
    /// </summary>
    public static void Kdf(ReadOnlySpan<byte> key, ReadOnlySpan<byte> input, Span<byte> t1, Span<byte> t2 = default, Span<byte> t3 = default)
    {
        Span<byte> prk = stackalloc byte[HashSize];
        Span<byte> previous = stackalloc byte[HashSize + 1];
        Hmac(key, input, prk);
        previous[0] = 1;
        Hmac(prk, previous[..1], previous[..HashSize]);
        Span<byte> first = stackalloc byte[HashSize];
        previous[..HashSize].CopyTo(first);
        if (!t2.IsEmpty || !t3.IsEmpty)
        {
            previous[HashSize] = 2;
            Span<byte> second = stackalloc byte[HashSize];
            Hmac(prk, previous, second);
            if (!t3.IsEmpty)
            {
                second.CopyTo(previous);
                previous[HashSize] = 3;
                Hmac(prk, previous, t3);
            }
            if (!t2.IsEmpty) second.CopyTo(t2);
        }
        first.CopyTo(t1);
        CryptographicOperations.ZeroMemory(prk);
    }

    /// <summary>MAC(key, data): keyed BLAKE2s with a 16-byte output (not a truncated HMAC).</summary>
    public static void Mac(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data, Span<byte> output)
    {
        var digest = new Blake2sDigest(key.ToArray(), MacSize, null, null);
        digest.BlockUpdate(data);
        digest.DoFinal(output);
    }

    /// <summary>AEAD(key, counter, plaintext, ad) with the 96-bit nonce 0^32 || LE64(counter); output = ciphertext || tag.</summary>
    public static void Seal(ReadOnlySpan<byte> key, ulong counter, ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> ad, Span<byte> output)
    {
        Span<byte> nonce = stackalloc byte[12];
        WriteNonce(nonce, counter);
        using var aead = new ChaCha20Poly1305(key);
        aead.Encrypt(nonce, plaintext, output[..plaintext.Length], output.Slice(plaintext.Length, TagSize), ad);
    }

    public static bool Open(ReadOnlySpan<byte> key, ulong counter, ReadOnlySpan<byte> sealedData, ReadOnlySpan<byte> ad, Span<byte> plaintext)
    {
        if (sealedData.Length < TagSize) return false;
        Span<byte> nonce = stackalloc byte[12];
        WriteNonce(nonce, counter);
        using var aead = new ChaCha20Poly1305(key);
        int length = sealedData.Length - TagSize;
        try
        {
            aead.Decrypt(nonce, sealedData[..length], sealedData[length..], plaintext[..length], ad);
            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            return false;
        }
    }

    public static void WriteNonce(Span<byte> nonce12, ulong counter)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(nonce12, 0);
        BinaryPrimitives.WriteUInt64LittleEndian(nonce12[4..], counter);
    }

    /// <summary>XAEAD(key, nonce24, plaintext, ad): XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha); output = ciphertext || tag.</summary>
    public static void XSeal(ReadOnlySpan<byte> key, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> ad, Span<byte> output)
    {
        var cipher = new XChaCha20Poly1305();
        cipher.Init(true, new AeadParameters(new KeyParameter(key), TagSize * 8, nonce.ToArray(), ad.ToArray()));
        int written = cipher.ProcessBytes(plaintext, output);
        cipher.DoFinal(output[written..]);
    }

    public static bool XOpen(ReadOnlySpan<byte> key, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> sealedData, ReadOnlySpan<byte> ad, Span<byte> plaintext)
    {
        if (sealedData.Length < TagSize) return false;
        var cipher = new XChaCha20Poly1305();
        cipher.Init(false, new AeadParameters(new KeyParameter(key), TagSize * 8, nonce.ToArray(), ad.ToArray()));
        Span<byte> output = stackalloc byte[sealedData.Length];
        try
        {
            int written = cipher.ProcessBytes(sealedData, output);
            written += cipher.DoFinal(output[written..]);
            output[..written].CopyTo(plaintext);
            return true;
        }
        catch (Org.BouncyCastle.Crypto.InvalidCipherTextException)
        {
            return false;
        }
    }

    /// <summary>DH(private, public) = X25519; false when the result is all zeros (a low-order public key).</summary>
    public static bool Dh(ReadOnlySpan<byte> privateKey, ReadOnlySpan<byte> publicKey, Span<byte> shared)
    {
        if (privateKey.Length != KeySize || publicKey.Length != KeySize) return false;
        return X25519.CalculateAgreement(privateKey, publicKey, shared);
    }

    /// <summary>
    /// TAI64N of <paramref name="now"/>: big-endian 2^62 + 10 + Unix seconds, then big-endian nanoseconds with
    /// the low 24 bits cleared, as wireguard-go does, so the timestamp does not leak a fine clock.
    /// </summary>
    public static void Tai64N(DateTimeOffset now, Span<byte> output)
    {
        const ulong Base = 0x400000000000000aUL;
        const uint Whitener = 0x1000000 - 1;
        long ticks = now.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        long seconds = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out long remainder);
        if (remainder < 0) { seconds--; remainder += TimeSpan.TicksPerSecond; }
        uint nanos = (uint)(remainder * 100) & ~Whitener;
        BinaryPrimitives.WriteUInt64BigEndian(output, Base + (ulong)seconds);
        BinaryPrimitives.WriteUInt32BigEndian(output[8..], nanos);
    }
}
