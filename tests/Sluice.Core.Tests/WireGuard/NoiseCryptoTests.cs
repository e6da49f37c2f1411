using System.Buffers.Binary;
using System.Text;
using Org.BouncyCastle.Crypto.Digests;
using Sluice.Core.Outbounds.WireGuard;

namespace Sluice.Core.Tests.WireGuard;

/// <summary>The primitives against published vectors and against definitions written out independently here.</summary>
public class NoiseCryptoTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex);

    [Fact]
    public void InitialChainKeyAndHash_MatchPublishedConstants()
    {
        // Ci = HASH("Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"), Hi = HASH(Ci || "WireGuard v1 zx2c4 Jason@zx2c4.com"),
        // as every interoperable implementation hard-codes them (boringtun, the kernel's noise.c at init).
        Assert.Equal("60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36", Convert.ToHexStringLower(NoiseCrypto.InitialChainKey));
        Assert.Equal("2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3", Convert.ToHexStringLower(NoiseCrypto.InitialHash));
    }

    [Fact]
    public void Blake2s_MatchesRfc7693Vector()
    {
        Assert.Equal("508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982",
            Convert.ToHexStringLower(NoiseCrypto.ComputeHash("abc"u8, default)));
    }

    [Fact]
    public void X25519_MatchesRfc7748Vector()
    {
        var alicePrivate = Hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        var bobPrivate = Hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
        Assert.Equal("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", Convert.ToHexStringLower(WireGuardKeys.PublicKeyOf(alicePrivate)));
        var bobPublic = WireGuardKeys.PublicKeyOf(bobPrivate);
        Assert.Equal("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", Convert.ToHexStringLower(bobPublic));
        var shared = new byte[32];
        Assert.True(NoiseCrypto.Dh(alicePrivate, bobPublic, shared));
        Assert.Equal("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", Convert.ToHexStringLower(shared));
    }

    [Fact]
    public void Dh_RefusesAllZeroResult_ForLowOrderPoints()
    {
        var (privateKey, _) = WireGuardKeys.Generate();
        var shared = new byte[32];
        Assert.False(NoiseCrypto.Dh(privateKey, new byte[32], shared));
        // More points of small order (cr.yp.to/ecdh.html lists them): u = 1, and a point of order 8.
        var one = new byte[32];
        one[0] = 1;
        Assert.False(NoiseCrypto.Dh(privateKey, one, shared));
        Assert.False(NoiseCrypto.Dh(privateKey, Hex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"), shared));
    }

    [Fact]
    public void XChaCha20Poly1305_MatchesDraftVector()
    {
        // draft-irtf-cfrg-xchacha-03, appendix A.3.1
        var key = Hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
        var nonce = Hex("404142434445464748494a4b4c4d4e4f5051525354555657");
        var ad = Hex("50515253c0c1c2c3c4c5c6c7");
        var plaintext = Encoding.ASCII.GetBytes("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.");
        var output = new byte[plaintext.Length + 16];
        NoiseCrypto.XSeal(key, nonce, plaintext, ad, output);
        Assert.Equal(
            "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e"
            + "c0875924c1c7987947deafd8780acf49",
            Convert.ToHexStringLower(output));
        var opened = new byte[plaintext.Length];
        Assert.True(NoiseCrypto.XOpen(key, nonce, output, ad, opened));
        Assert.Equal(plaintext, opened);
        output[5] ^= 1;
        Assert.False(NoiseCrypto.XOpen(key, nonce, output, ad, opened));
    }

    [Fact]
    public void Hmac_MatchesRfc2104DefinitionOverBlake2s()
    {
        var random = new Random(7);
        foreach (int keyLength in new[] { 0, 1, 32, 64 })
        foreach (int dataLength in new[] { 0, 1, 33, 200 })
        {
            var key = new byte[keyLength];
            var data = new byte[dataLength];
            random.NextBytes(key);
            random.NextBytes(data);
            var actual = new byte[32];
            NoiseCrypto.Hmac(key, data, actual);
            Assert.Equal(ReferenceHmac(key, data), actual);
        }
    }

    [Fact]
    public void Kdf123_MatchWhitepaperDefinition()
    {
        var random = new Random(11);
        for (int round = 0; round < 20; round++)
        {
            var key = new byte[32];
            var input = new byte[round % 3 == 0 ? 0 : 32 * (round % 4)];
            random.NextBytes(key);
            random.NextBytes(input);

            // τ0 := HMAC(key, input); τ1 := HMAC(τ0, 0x1); τ2 := HMAC(τ0, τ1 || 0x2); τ3 := HMAC(τ0, τ2 || 0x3)
            var t0 = ReferenceHmac(key, input);
            var t1 = ReferenceHmac(t0, [1]);
            var t2 = ReferenceHmac(t0, [.. t1, 2]);
            var t3 = ReferenceHmac(t0, [.. t2, 3]);

            var k1 = new byte[32];
            NoiseCrypto.Kdf(key, input, k1);
            Assert.Equal(t1, k1);
            var (a, b) = (new byte[32], new byte[32]);
            NoiseCrypto.Kdf(key, input, a, b);
            Assert.Equal(t1, a);
            Assert.Equal(t2, b);
            var (x, y, z) = (new byte[32], new byte[32], new byte[32]);
            NoiseCrypto.Kdf(key, input, x, y, z);
            Assert.Equal(new[] { t1, t2, t3 }, new[] { x, y, z });

            // The chaining key is usually both input and first output.
            var aliased = key.ToArray();
            NoiseCrypto.Kdf(aliased, input, aliased, b);
            Assert.Equal(t1, aliased);
        }
    }

    [Fact]
    public void Mac_IsKeyedBlake2s128_NotTruncatedHash()
    {
        var key = NoiseCrypto.ComputeHash("mac1----"u8, new byte[32]);
        var data = "message"u8.ToArray();
        var mac = new byte[16];
        NoiseCrypto.Mac(key, data, mac);
        // Keyed BLAKE2s per RFC 7693 §3.3: the key block is hashed first, with outlen 16 in the parameter block.
        var digest = new Blake2sDigest(key, 16, null, null);
        digest.BlockUpdate(data);
        var expected = new byte[16];
        digest.DoFinal(expected);
        Assert.Equal(expected, mac);
        Assert.NotEqual(NoiseCrypto.ComputeHash(key, data)[..16], mac);
    }

    [Fact]
    public void Tai64N_IsBigEndianTaiSecondsAndWhitenedNanoseconds()
    {
        var time = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000).AddTicks(1234567); // .1234567 s
        var stamp = new byte[12];
        NoiseCrypto.Tai64N(time, stamp);
        Assert.Equal(0x400000000000000aUL + 1_700_000_000UL, BinaryPrimitives.ReadUInt64BigEndian(stamp));
        uint nanos = BinaryPrimitives.ReadUInt32BigEndian(stamp.AsSpan(8));
        Assert.Equal(123_456_700u & ~0xFFFFFFu, nanos);

        var later = new byte[12];
        NoiseCrypto.Tai64N(time.AddMilliseconds(20), later);
        Assert.True(later.AsSpan().SequenceCompareTo(stamp) > 0);
    }

    [Fact]
    public void ParseKey_RejectsWrongLengthsWithTheKeyName()
    {
        var (privateKey, publicKey) = WireGuardKeys.Generate();
        Assert.Equal(publicKey, WireGuardKeys.ParseKey(Convert.ToBase64String(publicKey), "x"));
        Assert.Equal(publicKey, WireGuardKeys.PublicKeyOf(privateKey));
        var error = Assert.Throws<FormatException>(() => WireGuardKeys.ParseKey(Convert.ToBase64String(new byte[31]), "peers[0].public_key"));
        Assert.Equal("peers[0].public_key is not a base64 32-byte WireGuard key", error.Message);
        Assert.Throws<FormatException>(() => WireGuardKeys.ParseKey(Convert.ToBase64String(new byte[33]), "k"));
        Assert.Throws<FormatException>(() => WireGuardKeys.ParseKey("not base64!", "k"));
        Assert.Throws<FormatException>(() => WireGuardKeys.ParseKey("", "k"));
    }

    /// <summary>HMAC (RFC 2104) over BLAKE2s-256 with its 64-byte block, written out from the definition.</summary>
    private static byte[] ReferenceHmac(byte[] key, byte[] data)
    {
        const int Block = 64;
        var k = new byte[Block];
        if (key.Length > Block) Blake2s(key).CopyTo(k, 0);
        else key.CopyTo(k, 0);
        var inner = new byte[Block + data.Length];
        var outer = new byte[Block + 32];
        for (int i = 0; i < Block; i++)
        {
            inner[i] = (byte)(k[i] ^ 0x36);
            outer[i] = (byte)(k[i] ^ 0x5c);
        }
        data.CopyTo(inner, Block);
        Blake2s(inner).CopyTo(outer, Block);
        return Blake2s(outer);
    }

    private static byte[] Blake2s(byte[] data)
    {
        var digest = new Blake2sDigest(256);
        digest.BlockUpdate(data, 0, data.Length);
        var output = new byte[32];
        digest.DoFinal(output, 0);
        return output;
    }
}
