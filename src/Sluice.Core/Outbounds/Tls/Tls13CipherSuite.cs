using System.Security.Cryptography;

namespace Sluice.Core.Outbounds.Tls;

/// <summary>The three TLS 1.3 cipher suites Sluice's client speaks (RFC 8446 §B.4) and what each one implies.</summary>
internal readonly record struct Tls13CipherSuite(ushort Code, int KeyLength, HashAlgorithmName Hash, int HashLength)
{
    public const ushort Aes128GcmSha256 = 0x1301;
    public const ushort Aes256GcmSha384 = 0x1302;
    public const ushort ChaCha20Poly1305Sha256 = 0x1303;

    public bool IsChaCha => Code == ChaCha20Poly1305Sha256;

    public static bool TryGet(ushort code, out Tls13CipherSuite suite)
    {
        suite = code switch
        {
            Aes128GcmSha256 => new(code, 16, HashAlgorithmName.SHA256, 32),
            Aes256GcmSha384 => new(code, 32, HashAlgorithmName.SHA384, 48),
            ChaCha20Poly1305Sha256 => new(code, 32, HashAlgorithmName.SHA256, 32),
            _ => default,
        };
        return suite.Code != 0;
    }

    public static string Name(ushort code) => code switch
    {
        Aes128GcmSha256 => "TLS_AES_128_GCM_SHA256",
        Aes256GcmSha384 => "TLS_AES_256_GCM_SHA384",
        ChaCha20Poly1305Sha256 => "TLS_CHACHA20_POLY1305_SHA256",
        _ => $"0x{code:x4}",
    };
}

/// <summary>
/// One direction's record protection (RFC 8446 §5.2–5.3): the AEAD under a traffic secret's key, the static
/// IV, and the 64-bit sequence number that XORed into the IV makes each record's nonce.
/// </summary>
internal sealed class RecordProtection : IDisposable
{
    public const int TagLength = 16;
    public const int NonceLength = 12;

    private readonly AesGcm? _aes;
    private readonly ChaCha20Poly1305? _chacha;
    private readonly byte[] _iv;
    private ulong _sequence;

    public RecordProtection(Tls13CipherSuite suite, ReadOnlySpan<byte> trafficSecret)
    {
        Suite = suite;
        Span<byte> key = stackalloc byte[suite.KeyLength];
        Tls13KeySchedule.ExpandLabel(suite, trafficSecret, "key", [], key);
        _iv = new byte[NonceLength];
        Tls13KeySchedule.ExpandLabel(suite, trafficSecret, "iv", [], _iv);
        if (suite.IsChaCha) _chacha = new ChaCha20Poly1305(key);
        else _aes = new AesGcm(key, TagLength);
        TrafficSecret = trafficSecret.ToArray();
        CryptographicOperations.ZeroMemory(key);
    }

    public Tls13CipherSuite Suite { get; }

    /// <summary>The secret these keys came from; KeyUpdate derives the next one from it.</summary>
    public byte[] TrafficSecret { get; }

    public void Seal(ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, Span<byte> tag, ReadOnlySpan<byte> header)
    {
        Span<byte> nonce = stackalloc byte[NonceLength];
        NextNonce(nonce);
        if (_chacha is not null) _chacha.Encrypt(nonce, plaintext, ciphertext, tag, header);
        else _aes!.Encrypt(nonce, plaintext, ciphertext, tag, header);
    }

    /// <summary>Opens one record; false when the tag does not verify (the caller sends bad_record_mac).</summary>
    public bool Open(ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, Span<byte> plaintext, ReadOnlySpan<byte> header)
    {
        Span<byte> nonce = stackalloc byte[NonceLength];
        NextNonce(nonce);
        try
        {
            if (_chacha is not null) _chacha.Decrypt(nonce, ciphertext, tag, plaintext, header);
            else _aes!.Decrypt(nonce, ciphertext, tag, plaintext, header);
            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            return false;
        }
    }

    private void NextNonce(Span<byte> nonce)
    {
        // RFC 8446 §5.3: the sequence number never wraps; a connection that would reach 2^64 records must rekey first.
        if (_sequence == ulong.MaxValue) throw new TlsException("TLS sequence number exhausted", TlsAlert.InternalError);
        _iv.CopyTo(nonce);
        ulong sequence = _sequence++;
        for (int i = 0; i < 8; i++) nonce[NonceLength - 1 - i] ^= (byte)(sequence >> (8 * i));
    }

    public void Dispose()
    {
        _aes?.Dispose();
        _chacha?.Dispose();
        CryptographicOperations.ZeroMemory(TrafficSecret);
    }
}
