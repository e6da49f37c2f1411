using System.Net;
using System.Security.Cryptography;
using System.Text;
using Org.BouncyCastle.Math.EC.Rfc7748;

namespace Sluice.Core.Outbounds.Tls;

/// <summary>
/// A ClientHello shaped like Chrome's (BoringSSL): GREASE cipher suite, groups, versions, key share and two
/// GREASE extensions; Chrome's cipher suites, signature algorithms and extension set; the extensions between
/// the first and last GREASE shuffled per connection as Chrome does since version 110; the hello padded to 512
/// bytes when it falls between 256 and 511 (RFC 7685, as BoringSSL does). It carries an X25519 key share and a
/// 32-byte legacy_session_id (zeros until a <see cref="ITls13HandshakeHooks"/> such as Reality fills it).
/// Deviations: no ALPS, no ECH GREASE and no post-quantum share (Sluice cannot complete them).
/// </summary>
internal sealed class ClientHello
{
    /// <summary>Offset of legacy_session_id in the handshake message: type 1 + length 3 + version 2 + random 32 + length 1.</summary>
    public const int SessionIdOffset = 39;
    public const int RandomOffset = 6;
    public const int SessionIdLength = 32;

    private ClientHello(byte[] message, byte[] keySharePrivate, byte[] keySharePublic)
    {
        Message = message;
        KeySharePrivate = keySharePrivate;
        KeySharePublic = keySharePublic;
    }

    /// <summary>The whole handshake message (header included), as it enters the transcript.</summary>
    public byte[] Message { get; }

    public ReadOnlySpan<byte> Random => Message.AsSpan(RandomOffset, 32);

    public Span<byte> SessionId => Message.AsSpan(SessionIdOffset, SessionIdLength);

    public byte[] KeySharePrivate { get; }

    public byte[] KeySharePublic { get; }

    private static readonly ushort[] ChromeCipherSuites =
    [
        Tls13CipherSuite.Aes128GcmSha256, Tls13CipherSuite.Aes256GcmSha384, Tls13CipherSuite.ChaCha20Poly1305Sha256,
        0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
    ];

    /// <summary>ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256, rsa_pkcs1_sha256, ecdsa_secp384r1_sha384, rsa_pss_rsae_sha384, rsa_pkcs1_sha384, rsa_pss_rsae_sha512, rsa_pkcs1_sha512.</summary>
    private static readonly ushort[] ChromeSignatureAlgorithms = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601];

    public const ushort GroupX25519 = 0x001d;

    public static ClientHello Build(string? serverName, IReadOnlyList<string> alpn)
    {
        var keyPrivate = new byte[X25519.PointSize];
        RandomNumberGenerator.Fill(keyPrivate);
        X25519.ClampPrivateKey(keyPrivate);
        var keyPublic = new byte[X25519.PointSize];
        X25519.ScalarMultBase(keyPrivate, keyPublic);

        var grease = new ushort[4];
        PickGrease(grease);
        var extensions = new List<(int Type, byte[] Body)>
        {
            (0x0017, []), // extended_master_secret
            (0xff01, [0]), // renegotiation_info
            (0x000a, Build(w => { var v = w.OpenVector(2); w.U16(grease[1]); w.U16(GroupX25519); w.U16(0x0017); w.U16(0x0018); w.CloseVector(v); })),
            (0x000b, [1, 0]), // ec_point_formats: uncompressed
            (0x0023, []), // session_ticket
            (0x0005, [1, 0, 0, 0, 0]), // status_request: OCSP
            (0x000d, Build(w => { var v = w.OpenVector(2); foreach (var a in ChromeSignatureAlgorithms) w.U16(a); w.CloseVector(v); })),
            (0x0012, []), // signed_certificate_timestamp
            (0x0033, Build(w =>
            {
                var v = w.OpenVector(2);
                w.U16(grease[1]); w.U16(1); w.U8(0);
                w.U16(GroupX25519); w.U16(keyPublic.Length); w.Bytes(keyPublic);
                w.CloseVector(v);
            })),
            (0x002d, [1, 1]), // psk_key_exchange_modes: psk_dhe_ke
            (0x002b, Build(w => { var v = w.OpenVector(1); w.U16(grease[2]); w.U16(0x0304); w.U16(0x0303); w.CloseVector(v); })),
            (0x001b, [2, 0, 2]), // compress_certificate: brotli
        };
        if (serverName is { Length: > 0 } && !IPAddress.TryParse(serverName, out _))
        {
            extensions.Add((0x0000, Build(w =>
            {
                var list = w.OpenVector(2);
                w.U8(0);
                var name = w.OpenVector(2);
                w.Bytes(Encoding.ASCII.GetBytes(serverName));
                w.CloseVector(name);
                w.CloseVector(list);
            })));
        }
        var protocols = alpn.Count > 0 ? alpn : ["h2", "http/1.1"];
        extensions.Add((0x0010, Build(w =>
        {
            var list = w.OpenVector(2);
            foreach (var protocol in protocols)
            {
                var p = w.OpenVector(1);
                w.Bytes(Encoding.ASCII.GetBytes(protocol));
                w.CloseVector(p);
            }
            w.CloseVector(list);
        })));
        RandomNumberGenerator.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(extensions));

        var writer = new TlsWriter();
        writer.U8(1); // client_hello
        var body = writer.OpenVector(3);
        writer.U16(0x0303);
        RandomNumberGenerator.Fill(writer.Reserve(32));
        var session = writer.OpenVector(1);
        writer.Reserve(SessionIdLength).Clear();
        writer.CloseVector(session);
        var suites = writer.OpenVector(2);
        writer.U16(grease[0]);
        foreach (var suite in ChromeCipherSuites) writer.U16(suite);
        writer.CloseVector(suites);
        writer.U8(1); writer.U8(0); // compression: null only
        var all = writer.OpenVector(2);
        writer.U16(grease[0]); writer.U16(0);
        foreach (var (type, extensionBody) in extensions) WriteExtension(writer, type, extensionBody);
        writer.U16(grease[3]); writer.U16(1); writer.U8(0);
        int unpadded = writer.Length;
        if (unpadded > 0xff && unpadded < 0x200)
        {
            int padding = Math.Max(1, 0x200 - unpadded - 4);
            writer.U16(0x0015); writer.U16(padding); writer.Reserve(padding).Clear();
        }
        writer.CloseVector(all);
        writer.CloseVector(body);
        return new ClientHello(writer.Written.ToArray(), keyPrivate, keyPublic);
    }

    private static void WriteExtension(TlsWriter writer, int type, byte[] body)
    {
        writer.U16(type);
        writer.U16(body.Length);
        writer.Bytes(body);
    }

    private static byte[] Build(Action<TlsWriter> write)
    {
        var writer = new TlsWriter();
        write(writer);
        return writer.Written.ToArray();
    }

    /// <summary>GREASE values 0x?A?A (RFC 8701); the two GREASE extensions differ, as BoringSSL keeps them.</summary>
    private static void PickGrease(ushort[] values)
    {
        Span<byte> random = stackalloc byte[values.Length];
        RandomNumberGenerator.Fill(random);
        for (int i = 0; i < values.Length; i++)
        {
            int nibble = random[i] & 0x0f;
            values[i] = (ushort)((nibble << 12) | 0x0a00 | (nibble << 4) | 0x0a);
        }
        if (values[3] == values[0]) values[3] ^= 0x1010;
    }
}
