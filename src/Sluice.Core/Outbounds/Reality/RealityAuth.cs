using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Org.BouncyCastle.Math.EC.Rfc7748;
using Sluice.Core.Outbounds.Tls;

namespace Sluice.Core.Outbounds.Reality;

/// <summary>
/// Reality's client-side cryptography, as XTLS/REALITY and Xray's client define it (no I/O):
/// 1. shared = X25519(the hello's own key-share private key, the server's Reality public key)
/// 2. auth key = HKDF-SHA256(shared, salt = ClientHello.random[0:20], info = "REALITY"), 32 bytes
/// 3. session_id = AES-256-GCM(auth key, nonce = random[20:32], AAD = the ClientHello message with its
///    session_id zeroed) of 16 bytes: client version x.y.z, a reserved zero, unix time (u32 BE), short id (8)
/// 4. the server is the Reality server only when its leaf is an Ed25519 certificate whose signature field
///    is HMAC-SHA512(auth key, the Ed25519 public key)
/// </summary>
internal static class RealityAuth
{
    public const int KeyLength = 32;
    public const int ShortIdLength = 8;

    /// <summary>The client version sealed into the session id; servers may bound it (minClientVer/maxClientVer).</summary>
    public static ReadOnlySpan<byte> ClientVersion => [26, 7, 28];

    private static readonly byte[] Info = Encoding.ASCII.GetBytes("REALITY");

    /// <summary>Steps 1–2; false when the server key is a low-order point (no shared secret).</summary>
    public static bool TryDeriveAuthKey(ReadOnlySpan<byte> ownPrivateKey, ReadOnlySpan<byte> serverPublicKey, ReadOnlySpan<byte> helloRandom, Span<byte> authKey)
    {
        Span<byte> shared = stackalloc byte[KeyLength];
        if (!X25519.CalculateAgreement(ownPrivateKey, serverPublicKey, shared)) return false;
        HKDF.DeriveKey(HashAlgorithmName.SHA256, shared, authKey[..KeyLength], helloRandom[..20], Info);
        CryptographicOperations.ZeroMemory(shared);
        return true;
    }

    /// <summary>The 16 bytes sealed into the session id (step 3).</summary>
    public static void SessionIdPlaintext(uint unixTime, ReadOnlySpan<byte> shortId, Span<byte> plaintext)
    {
        plaintext[..16].Clear();
        ClientVersion.CopyTo(plaintext);
        BinaryPrimitives.WriteUInt32BigEndian(plaintext[4..], unixTime);
        shortId.CopyTo(plaintext[8..16]);
    }

    /// <summary>
    /// Step 3 on a built hello: its session id must be all zeros on entry (it is the AAD's zeroed field); on
    /// return it holds the 16 sealed bytes and the 16-byte tag.
    /// </summary>
    public static void SealSessionId(ReadOnlySpan<byte> authKey, ReadOnlySpan<byte> plaintext, byte[] helloMessage)
    {
        var sessionId = helloMessage.AsSpan(ClientHello.SessionIdOffset, ClientHello.SessionIdLength);
        if (sessionId.ContainsAnyExcept((byte)0)) throw new InvalidOperationException("the session id must be zeros while it is sealed");
        var aad = helloMessage.AsSpan().ToArray();
        var nonce = helloMessage.AsSpan(ClientHello.RandomOffset + 20, 12);
        using var aes = new AesGcm(authKey, 16);
        aes.Encrypt(nonce, plaintext[..16], sessionId[..16], sessionId[16..], aad);
    }

    /// <summary>Step 4: true when the leaf certificate carries the auth key's HMAC over its Ed25519 key.</summary>
    public static bool IsRealityCertificate(ReadOnlySpan<byte> authKey, ReadOnlySpan<byte> leafDer)
    {
        var (algorithm, publicKey) = ServerCertificateValidator.SubjectPublicKey(leafDer);
        if (algorithm != "1.3.101.112" || publicKey.Length != 32) return false;
        var expected = HMACSHA512.HashData(authKey, publicKey);
        return CryptographicOperations.FixedTimeEquals(expected, ServerCertificateValidator.SignatureValue(leafDer));
    }
}
