using System.Buffers.Binary;
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
/// After a HelloRetryRequest, <see cref="Retry"/> makes the second hello (RFC 8446 §4.1.2): the same random, session
/// id and extension order, the key share replaced by one for the group the server asked for (P-256 or P-384, both
/// in supported_groups as Chrome lists them), and the server's cookie echoed.
/// A resumption offer (<see cref="PskOffer"/>) adds pre_shared_key as the last extension, after the padding, which
/// counts it (as BoringSSL places and pads it); the binder is zeros until <see cref="SetBinder"/>.
/// Deviations: no ALPS, no ECH GREASE and no post-quantum share (Sluice cannot complete them).
/// </summary>
internal sealed class ClientHello : IDisposable
{
    /// <summary>Offset of legacy_session_id in the handshake message: type 1 + length 3 + version 2 + random 32 + length 1.</summary>
    public const int SessionIdOffset = 39;
    public const int RandomOffset = 6;
    public const int SessionIdLength = 32;

    public const ushort GroupX25519 = 0x001d, GroupSecp256r1 = 0x0017, GroupSecp384r1 = 0x0018;
    private const int KeyShareExtension = 0x0033, CookieExtension = 0x002c, PreSharedKeyExtension = 0x0029;

    private readonly List<(int Type, byte[] Body)> _extensions;
    private readonly ushort[] _grease;
    private readonly ECDiffieHellman? _ecdh;
    private readonly IX25519 _x25519;
    private readonly PskOffer? _psk;

    private ClientHello(byte[] message, ushort group, byte[] keySharePrivate, byte[] keySharePublic, ECDiffieHellman? ecdh,
        List<(int Type, byte[] Body)> extensions, ushort[] grease, IX25519? x25519 = null, PskOffer? psk = null)
    {
        _psk = psk;
        _x25519 = x25519 ?? ManagedX25519.Instance;
        Message = message;
        Group = group;
        KeySharePrivate = keySharePrivate;
        KeySharePublic = keySharePublic;
        _ecdh = ecdh;
        _extensions = extensions;
        _grease = grease;
    }

    /// <summary>The whole handshake message (header included), as it enters the transcript.</summary>
    public byte[] Message { get; }

    public ReadOnlySpan<byte> Random => Message.AsSpan(RandomOffset, 32);

    public Span<byte> SessionId => Message.AsSpan(SessionIdOffset, SessionIdLength);

    /// <summary>The group of the (one non-GREASE) key share: X25519 in a first hello.</summary>
    public ushort Group { get; }

    /// <summary>The X25519 private key (empty in a retry hello with an ECDH share).</summary>
    public byte[] KeySharePrivate { get; }

    public byte[] KeySharePublic { get; }

    /// <summary>True when the hello offers a ticket (pre_shared_key).</summary>
    public bool OffersPsk => _psk is not null;

    /// <summary>The hello up to the binders list (§4.2.11.2), its length fields those of the whole hello: what the binder covers.</summary>
    public ReadOnlySpan<byte> TruncatedForBinder => Message.AsSpan(0, Message.Length - (_psk is null ? 0 : 3 + _psk.BinderLength));

    /// <summary>Writes the one binder into the hello's last bytes.</summary>
    public void SetBinder(ReadOnlySpan<byte> binder)
    {
        if (_psk is null || binder.Length != _psk.BinderLength) throw new InvalidOperationException("the binder does not fit the offered PSK");
        binder.CopyTo(Message.AsSpan(Message.Length - binder.Length));
    }

    // The one draw of Build: private key 32, GREASE 4, random 32, then 4 bytes per shuffle step.
    private const int MaxShuffled = 16, RandomOffsetInEntropy = 36, ShuffleOffset = 68, EntropyLength = ShuffleOffset + 4 * MaxShuffled;

    private static readonly ushort[] ChromeCipherSuites =
    [
        Tls13CipherSuite.Aes128GcmSha256, Tls13CipherSuite.Aes256GcmSha384, Tls13CipherSuite.ChaCha20Poly1305Sha256,
        0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
    ];

    /// <summary>ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256, rsa_pkcs1_sha256, ecdsa_secp384r1_sha384, rsa_pss_rsae_sha384, rsa_pkcs1_sha384, rsa_pss_rsae_sha512, rsa_pkcs1_sha512.</summary>
    private static readonly ushort[] ChromeSignatureAlgorithms = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601];

    /// <param name="x25519">Who computes the key share (null: <see cref="ManagedX25519"/>).</param>
    /// <param name="chromeAlpnWhenEmpty">An empty <paramref name="alpn"/> offers Chrome's "h2", "http/1.1"; false: no ALPN extension.</param>
    /// <param name="psk">A ticket to offer for resumption (psk_dhe_ke: the X25519 share stays); null: a full handshake.</param>
    public static ClientHello Build(string? serverName, IReadOnlyList<string> alpn, IX25519? x25519 = null, bool chromeAlpnWhenEmpty = true,
        PskOffer? psk = null)
    {
        x25519 ??= ManagedX25519.Instance;
        // All of the hello's randomness in one draw: each RandomNumberGenerator call is an OpenSSL RAND_bytes (a DRBG
        // lock, a getpid for fork detection), and a per-call shuffle made 13 of them per connection.
        Span<byte> entropy = stackalloc byte[EntropyLength];
        RandomNumberGenerator.Fill(entropy);
        var keyPrivate = entropy[..X25519.PointSize].ToArray();
        X25519.ClampPrivateKey(keyPrivate);
        var keyPublic = new byte[X25519.PointSize];
        x25519.PublicKey(keyPrivate, keyPublic);

        var grease = new ushort[4];
        PickGrease(grease, entropy.Slice(X25519.PointSize, grease.Length));
        var extensions = new List<(int Type, byte[] Body)>
        {
            (0x0017, []), // extended_master_secret
            (0xff01, [0]), // renegotiation_info
            (0x000a, Build(w => { var v = w.OpenVector(2); w.U16(grease[1]); w.U16(GroupX25519); w.U16(GroupSecp256r1); w.U16(GroupSecp384r1); w.CloseVector(v); })),
            (0x000b, [1, 0]), // ec_point_formats: uncompressed
            (0x0023, []), // session_ticket
            (0x0005, [1, 0, 0, 0, 0]), // status_request: OCSP
            (0x000d, Build(w => { var v = w.OpenVector(2); foreach (var a in ChromeSignatureAlgorithms) w.U16(a); w.CloseVector(v); })),
            (0x0012, []), // signed_certificate_timestamp
            (KeyShareExtension, Build(w =>
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
        IReadOnlyList<string> protocols = alpn.Count > 0 ? alpn : chromeAlpnWhenEmpty ? ["h2", "http/1.1"] : [];
        if (protocols.Count > 0)
        {
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
        }
        Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(extensions), entropy[ShuffleOffset..]);
        var message = Assemble(entropy.Slice(RandomOffsetInEntropy, 32), new byte[SessionIdLength], extensions, grease, psk);
        return new ClientHello(message, GroupX25519, keyPrivate, keyPublic, null, extensions, grease, x25519, psk);
    }

    /// <summary>
    /// The second ClientHello after a HelloRetryRequest for <paramref name="group"/> (P-256 or P-384; checked by the
    /// caller): this hello's random, session id and extensions in the same order, with one key share for that group
    /// (no GREASE share, as BoringSSL) and <paramref name="cookie"/> echoed when the server sent one; <paramref name="psk"/>
    /// the offer again with its age recomputed, or null to drop it (its hash is not the retry's suite's, §4.1.2).
    /// </summary>
    public ClientHello Retry(ushort group, byte[]? cookie, PskOffer? psk = null)
    {
        var ecdh = ECDiffieHellman.Create(group == GroupSecp256r1 ? ECCurve.NamedCurves.nistP256 : ECCurve.NamedCurves.nistP384);
        var q = ecdh.ExportParameters(includePrivateParameters: false).Q;
        byte[] point = [4, .. q.X!, .. q.Y!]; // uncompressed (RFC 8446 §4.2.8.2)
        var extensions = new List<(int Type, byte[] Body)>(_extensions.Count + 1);
        foreach (var (type, body) in _extensions)
        {
            if (type != KeyShareExtension)
            {
                extensions.Add((type, body));
                continue;
            }
            extensions.Add((type, Build(w => { var v = w.OpenVector(2); w.U16(group); w.U16(point.Length); w.Bytes(point); w.CloseVector(v); })));
            if (cookie is not null) extensions.Add((CookieExtension, Build(w => { var v = w.OpenVector(2); w.Bytes(cookie); w.CloseVector(v); })));
        }
        var message = Assemble(Random, Message.AsSpan(SessionIdOffset, SessionIdLength), extensions, _grease, psk);
        return new ClientHello(message, group, [], point, ecdh, extensions, _grease, psk: psk);
    }

    /// <summary>The shared secret with the server's share for <see cref="Group"/>; null when the share is not a valid point.</summary>
    public byte[]? Agree(byte[] serverShare)
    {
        if (_ecdh is null)
        {
            var shared = new byte[X25519.PointSize];
            return _x25519.Agree(KeySharePrivate, serverShare, shared) ? shared : null;
        }
        int size = (KeySharePublic.Length - 1) / 2;
        if (serverShare.Length != KeySharePublic.Length || serverShare[0] != 4) return null;
        try
        {
            var curve = Group == GroupSecp256r1 ? ECCurve.NamedCurves.nistP256 : ECCurve.NamedCurves.nistP384;
            using var peer = ECDiffieHellman.Create(new ECParameters
            {
                Curve = curve, Q = new ECPoint { X = serverShare[1..(1 + size)], Y = serverShare[(1 + size)..] },
            });
            return _ecdh.DeriveRawSecretAgreement(peer.PublicKey);
        }
        catch (CryptographicException)
        {
            return null; // not a point on the curve
        }
    }

    public void Dispose() => _ecdh?.Dispose();

    private static byte[] Assemble(ReadOnlySpan<byte> random, ReadOnlySpan<byte> sessionId, List<(int Type, byte[] Body)> extensions, ushort[] grease,
        PskOffer? psk)
    {
        var writer = new TlsWriter();
        writer.U8(1); // client_hello
        var body = writer.OpenVector(3);
        writer.U16(0x0303);
        writer.Bytes(random);
        var session = writer.OpenVector(1);
        writer.Bytes(sessionId);
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
        int unpadded = writer.Length + (psk?.ExtensionLength ?? 0);
        if (unpadded > 0xff && unpadded < 0x200)
        {
            int padding = Math.Max(1, 0x200 - unpadded - 4);
            writer.U16(0x0015); writer.U16(padding); writer.Reserve(padding).Clear();
        }
        if (psk is not null)
        {
            // §4.2.11: pre_shared_key MUST be the last extension: one identity, one binder (zeros until SetBinder).
            writer.U16(PreSharedKeyExtension);
            var extension = writer.OpenVector(2);
            var identities = writer.OpenVector(2);
            var identity = writer.OpenVector(2);
            writer.Bytes(psk.Identity);
            writer.CloseVector(identity);
            writer.U16((int)(psk.ObfuscatedAge >> 16)); writer.U16((int)(psk.ObfuscatedAge & 0xffff));
            writer.CloseVector(identities);
            var binders = writer.OpenVector(2);
            var binder = writer.OpenVector(1);
            writer.Reserve(psk.BinderLength).Clear();
            writer.CloseVector(binder);
            writer.CloseVector(binders);
            writer.CloseVector(extension);
        }
        writer.CloseVector(all);
        writer.CloseVector(body);
        return writer.Written.ToArray();
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

    /// <summary>
    /// Fisher–Yates over <paramref name="items"/> with 32 random bits per step: the modulo bias is at most
    /// <see cref="MaxShuffled"/> / 2^32, nothing for an order whose point is only to vary (Chrome's, against ossification).
    /// </summary>
    private static void Shuffle<T>(Span<T> items, ReadOnlySpan<byte> random)
    {
        if (items.Length > MaxShuffled) throw new InvalidOperationException($"more than {MaxShuffled} extensions to shuffle");
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = (int)(BinaryPrimitives.ReadUInt32LittleEndian(random[(4 * i)..]) % (uint)(i + 1));
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>GREASE values 0x?A?A (RFC 8701); the two GREASE extensions differ, as BoringSSL keeps them.</summary>
    private static void PickGrease(ushort[] values, ReadOnlySpan<byte> random)
    {
        for (int i = 0; i < values.Length; i++)
        {
            int nibble = random[i] & 0x0f;
            values[i] = (ushort)((nibble << 12) | 0x0a00 | (nibble << 4) | 0x0a);
        }
        if (values[3] == values[0]) values[3] ^= 0x1010;
    }
}

/// <summary>A ticket offered in pre_shared_key: its identity, obfuscated age, and the binder's length (the ticket's hash length).</summary>
internal sealed record PskOffer(byte[] Identity, uint ObfuscatedAge, int BinderLength)
{
    /// <summary>The whole extension: type, length, identities (length, identity, age), binders (length, binder).</summary>
    public int ExtensionLength => 4 + 2 + 2 + Identity.Length + 4 + 2 + 1 + BinderLength;
}
