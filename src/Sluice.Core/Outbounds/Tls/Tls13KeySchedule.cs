using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Sluice.Core.Outbounds.Tls;

/// <summary>
/// The TLS 1.3 key schedule (RFC 8446 §7.1), with a resumption PSK or without one:
/// 1. early secret = HKDF-Extract(0, PSK or 0); binder key = Derive-Secret(early, "res binder", ""); derived = Derive-Secret(early, "derived", "")
/// 2. handshake secret = HKDF-Extract(derived, ECDHE) → "c hs traffic" / "s hs traffic" over CH..SH
/// 3. master secret = HKDF-Extract(Derive-Secret(hs, "derived", ""), 0) → "c ap traffic" / "s ap traffic" over CH..server Finished
/// 4. resumption master secret = Derive-Secret(master, "res master", CH..client Finished); per NewSessionTicket,
///    PSK = HKDF-Expand-Label(resumption master, "resumption", ticket_nonce, Hash.length) (§4.6.1)
/// </summary>
internal static class Tls13KeySchedule
{
    /// <summary>HKDF-Expand-Label(secret, label, context, length) with the "tls13 " prefix (§7.1).</summary>
    public static void ExpandLabel(Tls13CipherSuite suite, ReadOnlySpan<byte> secret, string label, ReadOnlySpan<byte> context, Span<byte> output)
    {
        int labelLength = 6 + Encoding.ASCII.GetByteCount(label);
        Span<byte> info = stackalloc byte[2 + 1 + labelLength + 1 + context.Length];
        BinaryPrimitives.WriteUInt16BigEndian(info, (ushort)output.Length);
        info[2] = (byte)labelLength;
        Encoding.ASCII.GetBytes("tls13 ", info[3..]);
        Encoding.ASCII.GetBytes(label, info[9..]);
        info[3 + labelLength] = (byte)context.Length;
        context.CopyTo(info[(4 + labelLength)..]);
        HKDF.Expand(suite.Hash, secret, output, info);
    }

    /// <summary>Derive-Secret(secret, label, messages) where the caller passes Transcript-Hash(messages).</summary>
    public static byte[] DeriveSecret(Tls13CipherSuite suite, ReadOnlySpan<byte> secret, string label, ReadOnlySpan<byte> transcriptHash)
    {
        var output = new byte[suite.HashLength];
        ExpandLabel(suite, secret, label, transcriptHash, output);
        return output;
    }

    /// <summary>The handshake secret from the (EC)DHE shared secret, without a PSK (a full handshake).</summary>
    public static byte[] HandshakeSecret(Tls13CipherSuite suite, ReadOnlySpan<byte> sharedSecret) =>
        HandshakeSecret(suite, sharedSecret, EarlySecret(suite, []));

    /// <summary>The handshake secret from the (EC)DHE shared secret and the early secret (psk_dhe_ke).</summary>
    public static byte[] HandshakeSecret(Tls13CipherSuite suite, ReadOnlySpan<byte> sharedSecret, ReadOnlySpan<byte> earlySecret)
    {
        var derived = DeriveSecret(suite, earlySecret, "derived", EmptyHash(suite));
        return Extract(suite, sharedSecret, derived);
    }

    /// <summary>early secret = HKDF-Extract(salt 0, PSK); an empty <paramref name="psk"/> stands for Hash.length zeros (no PSK).</summary>
    public static byte[] EarlySecret(Tls13CipherSuite suite, ReadOnlySpan<byte> psk)
    {
        Span<byte> zeros = stackalloc byte[suite.HashLength];
        zeros.Clear();
        return Extract(suite, psk.IsEmpty ? zeros : psk, zeros);
    }

    /// <summary>
    /// The PSK binder (§4.2.11.2): HMAC with the finished key of binder_key = Derive-Secret(early, "res binder", ""),
    /// over <paramref name="truncatedHelloHash"/> = Transcript-Hash(ClientHello up to the binders list), the same
    /// construction as Finished.
    /// </summary>
    public static byte[] Binder(Tls13CipherSuite suite, ReadOnlySpan<byte> earlySecret, ReadOnlySpan<byte> truncatedHelloHash)
    {
        var binderKey = DeriveSecret(suite, earlySecret, "res binder", EmptyHash(suite));
        var binder = FinishedVerifyData(suite, binderKey, truncatedHelloHash);
        CryptographicOperations.ZeroMemory(binderKey);
        return binder;
    }

    /// <summary>resumption_master_secret = Derive-Secret(master, "res master", Transcript-Hash(ClientHello..client Finished)).</summary>
    public static byte[] ResumptionMasterSecret(Tls13CipherSuite suite, ReadOnlySpan<byte> masterSecret, ReadOnlySpan<byte> clientFinishedHash) =>
        DeriveSecret(suite, masterSecret, "res master", clientFinishedHash);

    /// <summary>A ticket's PSK = HKDF-Expand-Label(resumption_master_secret, "resumption", ticket_nonce, Hash.length) (§4.6.1).</summary>
    public static byte[] ResumptionPsk(Tls13CipherSuite suite, ReadOnlySpan<byte> resumptionMasterSecret, ReadOnlySpan<byte> ticketNonce) =>
        DeriveSecret(suite, resumptionMasterSecret, "resumption", ticketNonce);

    /// <summary>The master secret that the application traffic secrets come from.</summary>
    public static byte[] MasterSecret(Tls13CipherSuite suite, ReadOnlySpan<byte> handshakeSecret)
    {
        Span<byte> zeros = stackalloc byte[suite.HashLength];
        zeros.Clear();
        var derived = DeriveSecret(suite, handshakeSecret, "derived", EmptyHash(suite));
        return Extract(suite, zeros, derived);
    }

    private static byte[] Extract(Tls13CipherSuite suite, ReadOnlySpan<byte> inputKey, ReadOnlySpan<byte> salt)
    {
        var output = new byte[suite.HashLength];
        HKDF.Extract(suite.Hash, inputKey, salt, output);
        return output;
    }

    /// <summary>Finished.verify_data = HMAC(finished_key, Transcript-Hash) with finished_key from the base secret (§4.4.4).</summary>
    public static byte[] FinishedVerifyData(Tls13CipherSuite suite, ReadOnlySpan<byte> baseSecret, ReadOnlySpan<byte> transcriptHash)
    {
        Span<byte> finishedKey = stackalloc byte[suite.HashLength];
        ExpandLabel(suite, baseSecret, "finished", [], finishedKey);
        var mac = suite.HashLength == 48 ? HMACSHA384.HashData(finishedKey, transcriptHash) : HMACSHA256.HashData(finishedKey, transcriptHash);
        CryptographicOperations.ZeroMemory(finishedKey);
        return mac;
    }

    /// <summary>application_traffic_secret_N+1 = HKDF-Expand-Label(secret_N, "traffic upd", "", Hash.length) (§7.2).</summary>
    public static byte[] NextTrafficSecret(Tls13CipherSuite suite, ReadOnlySpan<byte> secret) =>
        DeriveSecret(suite, secret, "traffic upd", []);

    private static byte[] EmptyHash(Tls13CipherSuite suite) =>
        suite.HashLength == 48 ? SHA384.HashData(ReadOnlySpan<byte>.Empty) : SHA256.HashData(ReadOnlySpan<byte>.Empty);
}
