using System.Buffers.Binary;
using System.Security.Cryptography;
using Sluice.Core.Outbounds.Tls;
using Sluice.Tests;

namespace Sluice.Core.Tests.Tls;

/// <summary>
/// TLS 1.3 resumption's pieces: the key schedule against known answers, the ticket cache's rules (bound, single use,
/// lifetime, trust in the key), and the shape of a hello that offers a ticket.
/// </summary>
public sealed class TlsResumptionTests
{
    private static readonly Tls13CipherSuite Sha256 = Suite(Tls13CipherSuite.Aes128GcmSha256);
    private static readonly Tls13CipherSuite Sha384 = Suite(Tls13CipherSuite.Aes256GcmSha384);

    /// <summary>
    /// RFC 8448 §3 (resumption master secret, ticket nonce 00 00) and §4 (the PSK is the early secret's IKM, and the
    /// early secret): the ticket's PSK and the early secret come out as the trace prints them; the binder key as
    /// Debian's python3-cryptography 48.0 computes it from that early secret (HKDF-Expand-Label "res binder").
    /// </summary>
    [Fact]
    public void ResumptionPsk_AndEarlySecret_MatchRfc8448()
    {
        var resumptionMaster = Convert.FromHexString("7df235f2031d2a051287d02b0241b0bfdaf86cc856231f2d5aba46c434ec196c");

        var psk = Tls13KeySchedule.ResumptionPsk(Sha256, resumptionMaster, [0, 0]);
        var early = Tls13KeySchedule.EarlySecret(Sha256, psk);

        Assert.Equal("4ecd0eb6ec3b4d87f5d6028f922ca4c5851a277fd41311c9e62d2c9492e1c4f3", Convert.ToHexStringLower(psk));
        Assert.Equal("9b2188e9b2fc6d64d71dc329900e20bb41915000f678aa839cbb797cb7d8332c", Convert.ToHexStringLower(early));
        Assert.Equal("69fe131a3bbad5d63c64eebcc30e395b9d8107726a13d074e389dbc8a4e47256",
            Convert.ToHexStringLower(Tls13KeySchedule.DeriveSecret(Sha256, early, "res binder", SHA256.HashData(ReadOnlySpan<byte>.Empty))));
    }

    /// <summary>The binder (HMAC under the "res binder" key's finished key over the truncated hello's hash), both hashes, as python3-cryptography computes it.</summary>
    [Fact]
    public void Binder_MatchesAnIndependentComputation_ForBothHashes()
    {
        var truncatedHello = Enumerable.Range(0, 100).Select(i => (byte)i).ToArray();
        var earlySha256 = Tls13KeySchedule.EarlySecret(Sha256, Tls13KeySchedule.ResumptionPsk(Sha256,
            Convert.FromHexString("7df235f2031d2a051287d02b0241b0bfdaf86cc856231f2d5aba46c434ec196c"), [0, 0]));
        var pskSha384 = Tls13KeySchedule.ResumptionPsk(Sha384, Enumerable.Range(0, 48).Select(i => (byte)i).ToArray(), [1, 2, 3]);

        var binder256 = Tls13KeySchedule.Binder(Sha256, earlySha256, SHA256.HashData(truncatedHello));
        var binder384 = Tls13KeySchedule.Binder(Sha384, Tls13KeySchedule.EarlySecret(Sha384, pskSha384), SHA384.HashData(truncatedHello));

        Assert.Equal("5311ab5799308639dab7be4a6eed10217d8f51e09dc06c174a98e8dbc4337ee4", Convert.ToHexStringLower(binder256));
        Assert.Equal("1a0ff8289923c32a0497443ac6b0fa07dfd57d4cf95312bd38d4ee0fb8310d9302267281a6175fb646c0c75fe0471f7a", Convert.ToHexStringLower(pskSha384));
        Assert.Equal("36c501addfc83fddfba9c0c961b963f751b0eab00e258c8957d90e7376a70439a4286482503e409fc950a01a4d1769c0", Convert.ToHexStringLower(binder384));
    }

    [Fact]
    public void NewSessionTicket_BecomesATicket_WithThePskOfItsNonce_AndItsAgeObfuscated()
    {
        var clock = new FakeClock();
        var master = RandomNumberGenerator.GetBytes(32);
        var ticket = TlsSessionTicket.Parse(Nst(lifetime: 7200, ageAdd: 0xfffffff0, nonce: [9], identity: [1, 2, 3]), Sha256, master, clock.GetUtcNow())!;
        clock.Advance(TimeSpan.FromMilliseconds(1500));

        Assert.Equal(new byte[] { 1, 2, 3 }, ticket.Identity);
        Assert.Equal(Tls13KeySchedule.ResumptionPsk(Sha256, master, [9]), ticket.Psk);
        Assert.Equal(TimeSpan.FromHours(2), ticket.Lifetime);
        Assert.Equal(1500u - 16u, ticket.ObfuscatedAge(clock.GetUtcNow())); // (1500 + 0xfffffff0) mod 2^32
    }

    [Fact]
    public void NewSessionTicket_OfLifetimeZero_IsNotKept_AndOneOverSevenDays_IsHeldToSeven()
    {
        var now = DateTimeOffset.UnixEpoch;
        Assert.Null(TlsSessionTicket.Parse(Nst(lifetime: 0), Sha256, new byte[32], now));
        Assert.Equal(TimeSpan.FromDays(7), TlsSessionTicket.Parse(Nst(lifetime: 30 * 86400), Sha256, new byte[32], now)!.Lifetime);
    }

    [Fact]
    public void Ticket_IsTakenOnce()
    {
        var cache = new TlsSessionCache(8, new FakeClock());
        var key = Key();
        cache.Add(key, Ticket([1]));

        Assert.Equal(new byte[] { 1 }, cache.Take(key)!.Identity);
        Assert.Null(cache.Take(key));
    }

    /// <summary>After a server answered a ticket with an alert, the outbound's other tickets for that server go too (the next connections are full handshakes).</summary>
    [Fact]
    public void Forget_DropsEveryTicketOfThatKey_Only()
    {
        var cache = new TlsSessionCache(8, new FakeClock());
        var other = TlsSessionKey.Of(Options() with { ServerName = "other.test" });
        cache.Add(Key(), Ticket([1]));
        cache.Add(Key(), Ticket([2]));
        cache.Add(other, Ticket([3]));

        cache.Forget(Key());

        Assert.Null(cache.Take(Key()));
        Assert.Equal(new byte[] { 3 }, cache.Take(other)!.Identity);
    }

    /// <summary>A ticket read while its connection is being disposed is dropped, never derived from the wiped secret.</summary>
    [Fact]
    public void TicketSink_AfterItsConnectionIsGone_KeepsNothing()
    {
        var cache = new TlsSessionCache(8, new FakeClock());
        var sink = new TlsTicketSink(cache, Key(), Sha256, RandomNumberGenerator.GetBytes(32));
        sink.Accept(Nst());
        sink.Forget();
        sink.Accept(Nst());

        Assert.Equal(1, cache.Count);
    }

    [Fact]
    public void Cache_KeepsAtMostItsBound_DroppingTheOldest()
    {
        var cache = new TlsSessionCache(2, new FakeClock());
        var key = Key();
        cache.Add(key, Ticket([1]));
        cache.Add(key, Ticket([2]));
        cache.Add(key, Ticket([3]));

        Assert.Equal(2, cache.Count);
        Assert.Equal(new byte[] { 3 }, cache.Take(key)!.Identity); // newest first
        Assert.Equal(new byte[] { 2 }, cache.Take(key)!.Identity);
        Assert.Null(cache.Take(key));
    }

    [Fact]
    public void Ticket_PastItsLifetime_IsNotOffered()
    {
        var clock = new FakeClock();
        var cache = new TlsSessionCache(8, clock);
        var key = Key();
        cache.Add(key, Ticket([1], clock.GetUtcNow(), TimeSpan.FromSeconds(60)));
        cache.Add(key, Ticket([2], clock.GetUtcNow(), TimeSpan.FromSeconds(120)));
        clock.Advance(61);

        Assert.Equal(new byte[] { 2 }, cache.Take(key)!.Identity);
        clock.Advance(60);
        cache.Add(key, Ticket([3], clock.GetUtcNow() - TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10)));
        Assert.Null(cache.Take(key));
        Assert.Equal(0, cache.Count);
    }

    /// <summary>A ticket earned under one trust setting, name, SNI choice or ALPN is never offered under another.</summary>
    [Fact]
    public void Ticket_IsOfferedOnlyUnderTheSameTrustNameAndAlpn()
    {
        var cache = new TlsSessionCache(8, new FakeClock());
        var pinned = Options() with { TrustedRoots = [SelfSigned("CN=pin")] };
        cache.Add(TlsSessionKey.Of(pinned), Ticket([1]));

        Assert.Null(cache.Take(TlsSessionKey.Of(Options() with { Insecure = true })));
        Assert.Null(cache.Take(TlsSessionKey.Of(Options())));
        Assert.Null(cache.Take(TlsSessionKey.Of(pinned with { TrustedRoots = [SelfSigned("CN=other")] })));
        Assert.Null(cache.Take(TlsSessionKey.Of(pinned with { ServerName = "other.test" })));
        Assert.Null(cache.Take(TlsSessionKey.Of(pinned with { SendSni = false })));
        Assert.Null(cache.Take(TlsSessionKey.Of(pinned with { Alpn = ["http/1.1"] })));
        Assert.Null(cache.Take(TlsSessionKey.Of(pinned with { SessionServer = "trojan \"b\" (server.test:443)" })));
        Assert.Equal(new byte[] { 1 }, cache.Take(TlsSessionKey.Of(pinned with { TrustedRoots = [.. pinned.TrustedRoots!] }))!.Identity);
    }

    /// <summary>RFC 8446 §4.2.11: pre_shared_key is the hello's last extension, its binder covering everything before the binders list.</summary>
    [Fact]
    public void HelloOfferingATicket_EndsWithPreSharedKey_AndTheBinderCoversTheRest()
    {
        var identity = RandomNumberGenerator.GetBytes(120);
        using var hello = ClientHello.Build("server.test", [], psk: new PskOffer(identity, 0x01020304, 32));
        var binder = RandomNumberGenerator.GetBytes(32);
        hello.SetBinder(binder);

        var (lastType, lastBody, types) = Extensions(hello.Message);
        Assert.Equal(0x0029, lastType);
        Assert.Equal(1, types.Count(t => t == 0x0029));
        Assert.Equal(0x002d, types.Single(t => t == 0x002d)); // psk_key_exchange_modes (psk_dhe_ke) and the X25519 share stay
        Assert.Contains(0x0033, types);
        // BoringSSL's placement: the padding (RFC 7685) counts pre_shared_key and sits just before it; the hello is 512 bytes.
        Assert.Equal(types.Count - 2, types.IndexOf(0x0015));
        Assert.Equal(512, hello.Message.Length);
        var body = new TlsReaderProbe(lastBody);
        Assert.Equal(2 + identity.Length + 4, body.U16());
        Assert.Equal(identity, body.Vector2());
        Assert.Equal(0x01020304u, body.U32());
        Assert.Equal(33, body.U16());
        Assert.Equal(binder, body.Vector1());
        Assert.Equal(hello.Message.Length - 35, hello.TruncatedForBinder.Length);
        Assert.Equal(hello.Message.Length - 4, (hello.Message[1] << 16) | (hello.Message[2] << 8) | hello.Message[3]);
    }

    private static (int LastType, byte[] LastBody, List<int> Types) Extensions(byte[] hello)
    {
        int offset = 4 + 2 + 32;
        offset += 1 + hello[offset];
        offset += 2 + BinaryPrimitives.ReadUInt16BigEndian(hello.AsSpan(offset));
        offset += 1 + hello[offset];
        int end = offset + 2 + BinaryPrimitives.ReadUInt16BigEndian(hello.AsSpan(offset));
        Assert.Equal(hello.Length, end);
        offset += 2;
        var types = new List<int>();
        byte[] last = [];
        while (offset < end)
        {
            int type = BinaryPrimitives.ReadUInt16BigEndian(hello.AsSpan(offset));
            int length = BinaryPrimitives.ReadUInt16BigEndian(hello.AsSpan(offset + 2));
            types.Add(type);
            last = hello.AsSpan(offset + 4, length).ToArray();
            offset += 4 + length;
        }
        return (types[^1], last, types);
    }

    private sealed class TlsReaderProbe(byte[] data)
    {
        private int _offset;

        public int U16() => (data[_offset++] << 8) | data[_offset++];

        public uint U32() => ((uint)U16() << 16) | (uint)U16();

        public byte[] Vector2() => Take(U16());

        public byte[] Vector1() => Take(data[_offset++]);

        private byte[] Take(int count)
        {
            var bytes = data.AsSpan(_offset, count).ToArray();
            _offset += count;
            return bytes;
        }
    }

    private static byte[] Nst(uint lifetime = 3600, uint ageAdd = 0, byte[]? nonce = null, byte[]? identity = null)
    {
        nonce ??= [0];
        identity ??= [7];
        var body = new List<byte>();
        body.AddRange([(byte)(lifetime >> 24), (byte)(lifetime >> 16), (byte)(lifetime >> 8), (byte)lifetime]);
        body.AddRange([(byte)(ageAdd >> 24), (byte)(ageAdd >> 16), (byte)(ageAdd >> 8), (byte)ageAdd]);
        body.Add((byte)nonce.Length);
        body.AddRange(nonce);
        body.AddRange([(byte)(identity.Length >> 8), (byte)identity.Length]);
        body.AddRange(identity);
        body.AddRange([0, 0]);
        return [4, 0, (byte)(body.Count >> 8), (byte)body.Count, .. body];
    }

    private static TlsSessionTicket Ticket(byte[] identity, DateTimeOffset? received = null, TimeSpan? lifetime = null) =>
        new(Sha256, identity, new byte[32], 0, received ?? new FakeClock().GetUtcNow(), lifetime ?? TimeSpan.FromHours(1));

    private static Tls13ClientOptions Options() => new() { Endpoint = "server.test", ServerName = "server.test", SessionServer = "vless \"a\" (server.test:443)" };

    private static TlsSessionKey Key() => TlsSessionKey.Of(Options());

    private static System.Security.Cryptography.X509Certificates.X509Certificate2 SelfSigned(string subject)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
    }

    private static Tls13CipherSuite Suite(ushort code) => Tls13CipherSuite.TryGet(code, out var suite) ? suite : throw new ArgumentException("suite");
}
