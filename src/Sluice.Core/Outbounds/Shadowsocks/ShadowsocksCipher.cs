using System.Security.Cryptography;
using System.Text;

namespace Sluice.Core.Outbounds.Shadowsocks;

/// <summary>
/// A Shadowsocks AEAD method (SIP004, shadowsocks.org/doc/aead.html): the master key derived from
/// the password with EVP_BytesToKey(MD5), one subkey per salt with HKDF-SHA1(info "ss-subkey"),
/// 12-byte little-endian nonces counting from zero, 16-byte tags. Salt length = key length.
/// </summary>
internal sealed class ShadowsocksMethod
{
    public const int TagSize = 16;
    public const int NonceSize = 12;
    private static readonly byte[] SubkeyInfo = "ss-subkey"u8.ToArray();

    private ShadowsocksMethod(string name, int keySize, bool chacha)
    {
        Name = name;
        KeySize = keySize;
        IsChaCha = chacha;
    }

    public string Name { get; }

    public int KeySize { get; }

    public int SaltSize => KeySize;

    public bool IsChaCha { get; }

    /// <summary>The AEAD methods Sluice speaks; the 2022 (BLAKE3) methods are not among them yet.</summary>
    public static IReadOnlyList<string> Supported { get; } = ["aes-128-gcm", "aes-256-gcm", "chacha20-ietf-poly1305"];

    public static ShadowsocksMethod? Find(string name) => name switch
    {
        "aes-128-gcm" => new(name, 16, false),
        "aes-256-gcm" => new(name, 32, false),
        "chacha20-ietf-poly1305" => new(name, 32, true),
        _ => null,
    };

    /// <summary>EVP_BytesToKey with MD5 and one iteration, no salt: D1 = MD5(pw), Di = MD5(Di-1 || pw).</summary>
    public byte[] MasterKey(string password)
    {
        byte[] pw = Encoding.UTF8.GetBytes(password);
        var key = new byte[KeySize];
        byte[] previous = [];
        int have = 0;
        while (have < KeySize)
        {
            previous = MD5.HashData([.. previous, .. pw]);
            int n = Math.Min(previous.Length, KeySize - have);
            previous.AsSpan(0, n).CopyTo(key.AsSpan(have));
            have += n;
        }
        return key;
    }

    /// <summary>The per-salt AEAD: HKDF-SHA1(master key, salt, "ss-subkey").</summary>
    public AeadCipher Subkey(ReadOnlySpan<byte> masterKey, ReadOnlySpan<byte> salt)
    {
        Span<byte> subkey = stackalloc byte[KeySize];
        HKDF.DeriveKey(HashAlgorithmName.SHA1, masterKey, subkey, salt, SubkeyInfo);
        var cipher = new AeadCipher(IsChaCha, subkey);
        CryptographicOperations.ZeroMemory(subkey);
        return cipher;
    }
}

/// <summary>One AEAD key with its own nonce counter (each direction of a stream has one).</summary>
internal sealed class AeadCipher : IDisposable
{
    private readonly AesGcm? _aes;
    private readonly ChaCha20Poly1305? _chacha;
    private readonly byte[] _nonce = new byte[ShadowsocksMethod.NonceSize];

    public AeadCipher(bool chacha, ReadOnlySpan<byte> key)
    {
        if (chacha) _chacha = new ChaCha20Poly1305(key);
        else _aes = new AesGcm(key, ShadowsocksMethod.TagSize);
    }

    /// <summary>Encrypts with the current nonce, then increments it. Output: ciphertext then tag.</summary>
    public void Seal(ReadOnlySpan<byte> plaintext, Span<byte> output)
    {
        var ciphertext = output[..plaintext.Length];
        var tag = output.Slice(plaintext.Length, ShadowsocksMethod.TagSize);
        if (_aes is not null) _aes.Encrypt(_nonce, plaintext, ciphertext, tag);
        else _chacha!.Encrypt(_nonce, plaintext, ciphertext, tag);
        Increment();
    }

    /// <summary>Decrypts ciphertext+tag with the current nonce, then increments it; false when the tag does not verify.</summary>
    public bool Open(ReadOnlySpan<byte> sealedData, Span<byte> plaintext)
    {
        int length = sealedData.Length - ShadowsocksMethod.TagSize;
        try
        {
            if (_aes is not null) _aes.Decrypt(_nonce, sealedData[..length], sealedData[length..], plaintext[..length]);
            else _chacha!.Decrypt(_nonce, sealedData[..length], sealedData[length..], plaintext[..length]);
        }
        catch (AuthenticationTagMismatchException)
        {
            return false;
        }
        Increment();
        return true;
    }

    /// <summary>The nonce is a little-endian counter (SIP004).</summary>
    private void Increment()
    {
        for (int i = 0; i < _nonce.Length; i++)
        {
            if (++_nonce[i] != 0) break;
        }
    }

    public void Dispose()
    {
        _aes?.Dispose();
        _chacha?.Dispose();
    }
}
