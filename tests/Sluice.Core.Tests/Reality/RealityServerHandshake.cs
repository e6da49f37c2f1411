using System.Buffers.Binary;
using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Text;
using Org.BouncyCastle.Math.EC.Rfc7748;
using Org.BouncyCastle.Math.EC.Rfc8032;
using Sluice.Core.Outbounds.Tls;

namespace Sluice.Core.Tests.Reality;

/// <summary>What the test server learnt from a ClientHello it could authenticate.</summary>
internal sealed record RealityClient(byte[] AuthKey, byte[] ClientShare, byte[] SessionId, byte[] Hello, byte[] ShortId);

/// <summary>
/// The server half of Reality, written for the tests from XTLS/REALITY's published algorithm (not from
/// Sluice's client): authenticate the ClientHello by opening its session id, then run a TLS 1.3 handshake of
/// its own with an Ed25519 certificate whose signature field is HMAC-SHA512(auth key, public key). It reuses
/// Sluice's record layer and key schedule, which openssl s_server proved independently.
/// </summary>
internal static class RealityServerHandshake
{
    private static readonly byte[] Info = Encoding.ASCII.GetBytes("REALITY");

    /// <summary>Opens the session id; null when the hello is not from a client holding the server's public key and a known short id.</summary>
    public static RealityClient? Authenticate(byte[] hello, byte[] serverPrivate, IReadOnlySet<string> shortIds, string serverName, DateTimeOffset now)
    {
        var (random, sessionId, share, sni) = ParseHello(hello);
        if (share is null || sessionId.Length != 32 || sni != serverName) return null;
        var shared = new byte[32];
        if (!X25519.CalculateAgreement(serverPrivate, share, shared)) return null;
        var authKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, shared, 32, random[..20], Info);
        var aad = hello.ToArray();
        Array.Clear(aad, 39, 32);
        var plain = new byte[16];
        try
        {
            using var aes = new AesGcm(authKey, 16);
            aes.Decrypt(random[20..32], sessionId.AsSpan(0, 16), sessionId.AsSpan(16, 16), plain, aad);
        }
        catch (AuthenticationTagMismatchException)
        {
            return null;
        }
        long clientTime = BinaryPrimitives.ReadUInt32BigEndian(plain.AsSpan(4));
        if (Math.Abs(now.ToUnixTimeSeconds() - clientTime) > 120) return null;
        var shortId = plain[8..16];
        if (!shortIds.Contains(Convert.ToHexString(shortId).ToLowerInvariant())) return null;
        return new RealityClient(authKey, share, sessionId, hello, shortId);
    }

    /// <summary>ServerHello … Finished with the Reality certificate; returns once the client's Finished verified.</summary>
    public static async Task RunAsync(Tls13RecordLayer records, RealityClient client, ushort suiteCode, CancellationToken cancellationToken)
    {
        Tls13CipherSuite.TryGet(suiteCode, out var suite);
        var serverPrivate = new byte[32];
        RandomNumberGenerator.Fill(serverPrivate);
        X25519.ClampPrivateKey(serverPrivate);
        var serverShare = new byte[32];
        X25519.ScalarMultBase(serverPrivate, serverShare);

        var serverHello = Message(2, w =>
        {
            w.U16(0x0303);
            w.Bytes(RandomNumberGenerator.GetBytes(32));
            w.U8(client.SessionId.Length); w.Bytes(client.SessionId);
            w.U16(suiteCode); w.U8(0);
            var extensions = w.OpenVector(2);
            w.U16(0x002b); w.U16(2); w.U16(0x0304);
            w.U16(0x0033); w.U16(36); w.U16(0x001d); w.U16(32); w.Bytes(serverShare);
            w.CloseVector(extensions);
        });
        using var transcript = IncrementalHash.CreateHash(suite.Hash);
        transcript.AppendData(client.Hello);
        transcript.AppendData(serverHello);
        var shared = new byte[32];
        X25519.CalculateAgreement(serverPrivate, client.ClientShare, shared);
        var handshakeSecret = Tls13KeySchedule.HandshakeSecret(suite, shared);
        var helloHash = transcript.GetCurrentHash();
        var clientHandshake = Tls13KeySchedule.DeriveSecret(suite, handshakeSecret, "c hs traffic", helloHash);
        var serverHandshake = Tls13KeySchedule.DeriveSecret(suite, handshakeSecret, "s hs traffic", helloHash);
        await records.WriteAsync(Tls13RecordLayer.Handshake, serverHello, cancellationToken);
        await records.WriteAsync(Tls13RecordLayer.ChangeCipherSpec, new byte[] { 1 }, cancellationToken);
        records.SetWriteKeys(new RecordProtection(suite, serverHandshake));

        var signingKey = RandomNumberGenerator.GetBytes(Ed25519.SecretKeySize);
        var publicKey = new byte[Ed25519.PublicKeySize];
        Ed25519.GeneratePublicKey(signingKey, 0, publicKey, 0);
        var flight = new List<byte[]>
        {
            Message(8, w => w.U16(0)),
            Message(11, w =>
            {
                w.U8(0);
                var list = w.OpenVector(3);
                var entry = w.OpenVector(3);
                w.Bytes(Certificate(publicKey, HMACSHA512.HashData(client.AuthKey, publicKey)));
                w.CloseVector(entry);
                w.U16(0);
                w.CloseVector(list);
            }),
        };
        foreach (var message in flight) transcript.AppendData(message);
        var signature = new byte[Ed25519.SignatureSize];
        var content = VerifyContent(transcript.GetCurrentHash());
        Ed25519.Sign(signingKey, 0, content, 0, content.Length, signature, 0);
        flight.Add(Message(15, w => { w.U16(0x0807); w.U16(signature.Length); w.Bytes(signature); }));
        transcript.AppendData(flight[^1]);
        flight.Add(Message(20, w => w.Bytes(Tls13KeySchedule.FinishedVerifyData(suite, serverHandshake, transcript.GetCurrentHash()))));
        transcript.AppendData(flight[^1]);
        await records.WriteAsync(Tls13RecordLayer.Handshake, flight.SelectMany(m => m).ToArray(), cancellationToken);

        var master = Tls13KeySchedule.MasterSecret(suite, handshakeSecret);
        var finishedHash = transcript.GetCurrentHash();
        var clientApplication = Tls13KeySchedule.DeriveSecret(suite, master, "c ap traffic", finishedHash);
        var serverApplication = Tls13KeySchedule.DeriveSecret(suite, master, "s ap traffic", finishedHash);
        records.SetReadKeys(new RecordProtection(suite, clientHandshake));
        while (true)
        {
            var (type, record) = await records.ReadAsync(cancellationToken);
            if (type == Tls13RecordLayer.ChangeCipherSpec) continue;
            if (type != Tls13RecordLayer.Handshake || record.Span[0] != 20) throw new InvalidDataException($"expected the client's Finished, got record {type}");
            var expected = Tls13KeySchedule.FinishedVerifyData(suite, clientHandshake, transcript.GetCurrentHash());
            if (!record.Span[4..].SequenceEqual(expected)) throw new InvalidDataException("the client's Finished does not verify");
            break;
        }
        records.SetReadKeys(new RecordProtection(suite, clientApplication));
        records.SetWriteKeys(new RecordProtection(suite, serverApplication));
    }

    /// <summary>A self-signed-shaped Ed25519 certificate whose signature field holds <paramref name="signature"/> (Reality's HMAC).</summary>
    public static byte[] Certificate(byte[] publicKey, byte[] signature)
    {
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            using (writer.PushSequence())
            {
                using (writer.PushSequence(new Asn1Tag(TagClass.ContextSpecific, 0, true))) writer.WriteInteger(2);
                writer.WriteInteger(0);
                using (writer.PushSequence()) writer.WriteObjectIdentifier("1.3.101.112");
                using (writer.PushSequence()) { }
                using (writer.PushSequence())
                {
                    writer.WriteUtcTime(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
                    writer.WriteUtcTime(new DateTimeOffset(2036, 1, 1, 0, 0, 0, TimeSpan.Zero));
                }
                using (writer.PushSequence()) { }
                using (writer.PushSequence())
                {
                    using (writer.PushSequence()) writer.WriteObjectIdentifier("1.3.101.112");
                    writer.WriteBitString(publicKey);
                }
            }
            using (writer.PushSequence()) writer.WriteObjectIdentifier("1.3.101.112");
            writer.WriteBitString(signature);
        }
        return writer.Encode();
    }

    private static byte[] VerifyContent(byte[] transcriptHash)
    {
        const string context = "TLS 1.3, server CertificateVerify";
        return [.. Enumerable.Repeat((byte)0x20, 64), .. Encoding.ASCII.GetBytes(context), 0, .. transcriptHash];
    }

    private static byte[] Message(byte type, Action<TlsWriter> body)
    {
        var writer = new TlsWriter();
        writer.U8(type);
        var length = writer.OpenVector(3);
        body(writer);
        writer.CloseVector(length);
        return writer.Written.ToArray();
    }

    private static (byte[] Random, byte[] SessionId, byte[]? Share, string? ServerName) ParseHello(byte[] hello)
    {
        var reader = new TlsReader(hello.AsSpan(4), "ClientHello");
        reader.U16();
        var random = reader.Bytes(32).ToArray();
        var sessionId = reader.Vector(1).ToArray();
        reader.Vector(2);
        reader.Vector(1);
        var extensions = new TlsReader(reader.Vector(2), "extensions");
        byte[]? share = null;
        string? name = null;
        while (!extensions.IsEmpty)
        {
            ushort type = extensions.U16();
            var body = new TlsReader(extensions.Vector(2), "extension");
            if (type == 0x0033)
            {
                var shares = new TlsReader(body.Vector(2), "key_share");
                while (!shares.IsEmpty)
                {
                    ushort group = shares.U16();
                    var key = shares.Vector(2);
                    if (group == 0x001d && key.Length == 32) share = key.ToArray();
                }
            }
            else if (type == 0x0000)
            {
                var list = new TlsReader(body.Vector(2), "server_name");
                list.U8();
                name = Encoding.ASCII.GetString(list.Vector(2));
            }
        }
        return (random, sessionId, share, name);
    }
}
