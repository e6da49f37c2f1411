using System.Security.Cryptography;
using System.Text;

namespace Sluice.Core.Outbounds.Shadowsocks;

/// <summary>The AEAD construction under a Shadowsocks method.</summary>
internal enum AeadKind
{
    AesGcm,
    ChaCha20Poly1305,

    /// <summary>24-byte nonces (libsodium's crypto_aead_xchacha20poly1305_ietf), as shadowsocks-libev uses it.</summary>
    XChaCha20Poly1305,
}

/// <summary>
/// A Shadowsocks method. The AEAD methods (SIP004, shadowsocks.org/doc/aead.html): the master key derived
/// from the password with EVP_BytesToKey(MD5), one subkey per salt with HKDF-SHA1(info "ss-subkey"),
/// little-endian counter nonces from zero, 16-byte tags, salt length = key length. The 2022 methods
/// (SIP022): the key is a base64 PSK given by the user, the subkey BLAKE3 derive_key("shadowsocks 2022
/// session subkey", PSK || salt); their stream and datagram formats differ (see Shadowsocks2022*).
/// </summary>
internal sealed class ShadowsocksMethod
{
    public const int TagSize = 16;
    private static readonly byte[] SubkeyInfo = "ss-subkey"u8.ToArray();
    public const string SessionSubkeyContext = "shadowsocks 2022 session subkey";

    private ShadowsocksMethod(string name, int keySize, AeadKind kind, bool is2022)
    {
        Name = name;
        KeySize = keySize;
        Kind = kind;
        Is2022 = is2022;
    }

    public string Name { get; }

    public int KeySize { get; }

    public int SaltSize => KeySize;

    public AeadKind Kind { get; }

    public int NonceSize => Kind == AeadKind.XChaCha20Poly1305 ? XChaCha20Poly1305.NonceSize : 12;

    /// <summary>A SIP022 method: base64 PSK(s) instead of a password, BLAKE3 subkeys, the 2022 headers.</summary>
    public bool Is2022 { get; }

    /// <summary>The largest payload of one chunk: 0x3FFF (SIP004), 0xFFFF (SIP022 §3.1.2).</summary>
    public int MaxChunkPayload => Is2022 ? 0xFFFF : 0x3FFF;

    public static IReadOnlyList<string> Supported { get; } =
    [
        "aes-128-gcm", "aes-192-gcm", "aes-256-gcm", "chacha20-ietf-poly1305", "xchacha20-ietf-poly1305",
        "2022-blake3-aes-128-gcm", "2022-blake3-aes-256-gcm", "2022-blake3-chacha20-poly1305",
    ];

    public static ShadowsocksMethod? Find(string name) => name switch
    {
        "aes-128-gcm" => new(name, 16, AeadKind.AesGcm, false),
        "aes-192-gcm" => new(name, 24, AeadKind.AesGcm, false),
        "aes-256-gcm" => new(name, 32, AeadKind.AesGcm, false),
        "chacha20-ietf-poly1305" => new(name, 32, AeadKind.ChaCha20Poly1305, false),
        "xchacha20-ietf-poly1305" => new(name, 32, AeadKind.XChaCha20Poly1305, false),
        "2022-blake3-aes-128-gcm" => new(name, 16, AeadKind.AesGcm, true),
        "2022-blake3-aes-256-gcm" => new(name, 32, AeadKind.AesGcm, true),
        "2022-blake3-chacha20-poly1305" => new(name, 32, AeadKind.ChaCha20Poly1305, true),
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

    /// <summary>The per-salt AEAD: HKDF-SHA1(master key, salt, "ss-subkey"), or for 2022 BLAKE3 derive_key(PSK || salt).</summary>
    public AeadCipher Subkey(ReadOnlySpan<byte> masterKey, ReadOnlySpan<byte> salt)
    {
        Span<byte> subkey = stackalloc byte[KeySize];
        if (Is2022)
        {
            Span<byte> material = stackalloc byte[masterKey.Length + salt.Length];
            masterKey.CopyTo(material);
            salt.CopyTo(material[masterKey.Length..]);
            Blake3.DeriveKey(SessionSubkeyContext, material, subkey);
            CryptographicOperations.ZeroMemory(material);
        }
        else
        {
            HKDF.DeriveKey(HashAlgorithmName.SHA1, masterKey, subkey, salt, SubkeyInfo);
        }
        var cipher = new AeadCipher(Kind, subkey);
        CryptographicOperations.ZeroMemory(subkey);
        return cipher;
    }
}

/// <summary>One AEAD key with its own little-endian nonce counter (each direction of a stream has one).</summary>
internal sealed class AeadCipher : IDisposable
{
    private readonly AesGcm? _aes;
    private readonly ChaCha20Poly1305? _chacha;
    private readonly XChaCha20Poly1305? _xchacha;
    private readonly byte[] _nonce;

    public AeadCipher(AeadKind kind, ReadOnlySpan<byte> key)
    {
        switch (kind)
        {
            case AeadKind.AesGcm:
                _aes = new AesGcm(key, ShadowsocksMethod.TagSize);
                _nonce = new byte[12];
                break;
            case AeadKind.ChaCha20Poly1305:
                _chacha = new ChaCha20Poly1305(key);
                _nonce = new byte[12];
                break;
            default:
                _xchacha = new XChaCha20Poly1305(key);
                _nonce = new byte[XChaCha20Poly1305.NonceSize];
                break;
        }
    }

    /// <summary>Encrypts with the current nonce, then increments it. Output: ciphertext then tag.</summary>
    public void Seal(ReadOnlySpan<byte> plaintext, Span<byte> output)
    {
        SealWith(_nonce, plaintext, output);
        Increment();
    }

    /// <summary>Encrypts with an explicit nonce (SIP022 UDP: part of the separate header); the counter is untouched.</summary>
    public void SealWith(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> output)
    {
        var ciphertext = output[..plaintext.Length];
        var tag = output.Slice(plaintext.Length, ShadowsocksMethod.TagSize);
        if (_aes is not null) _aes.Encrypt(nonce, plaintext, ciphertext, tag);
        else if (_chacha is not null) _chacha.Encrypt(nonce, plaintext, ciphertext, tag);
        else _xchacha!.Encrypt(nonce, plaintext, ciphertext, tag);
    }

    /// <summary>Decrypts ciphertext+tag with the current nonce, then increments it; false when the tag does not verify.</summary>
    public bool Open(ReadOnlySpan<byte> sealedData, Span<byte> plaintext)
    {
        if (!OpenWith(_nonce, sealedData, plaintext)) return false;
        Increment();
        return true;
    }

    /// <summary>Decrypts with an explicit nonce; false when the tag does not verify.</summary>
    public bool OpenWith(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> sealedData, Span<byte> plaintext)
    {
        int length = sealedData.Length - ShadowsocksMethod.TagSize;
        if (length < 0) return false;
        try
        {
            if (_aes is not null) _aes.Decrypt(nonce, sealedData[..length], sealedData[length..], plaintext[..length]);
            else if (_chacha is not null) _chacha.Decrypt(nonce, sealedData[..length], sealedData[length..], plaintext[..length]);
            else _xchacha!.Decrypt(nonce, sealedData[..length], sealedData[length..], plaintext[..length]);
        }
        catch (AuthenticationTagMismatchException)
        {
            return false;
        }
        return true;
    }

    /// <summary>The nonce is a little-endian counter (SIP004, SIP022 §3.1.1).</summary>
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
        _xchacha?.Dispose();
    }
}
