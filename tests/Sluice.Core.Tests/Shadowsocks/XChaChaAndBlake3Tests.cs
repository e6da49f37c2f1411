using System.Text;
using Sluice.Core.Outbounds.Shadowsocks;

namespace Sluice.Core.Tests.Shadowsocks;

/// <summary>Known-answer tests: draft-irtf-cfrg-xchacha-03 §2.2.1 and A.3.1, and the BLAKE3 team's test_vectors.json.</summary>
public sealed class XChaChaAndBlake3Tests
{
    [Fact]
    public void HChaCha20_MatchesDraftVector()
    {
        byte[] key = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        byte[] nonce = Convert.FromHexString("000000090000004a0000000031415927");
        var subkey = new byte[32];

        HChaCha20.DeriveSubkey(key, nonce, subkey);

        Assert.Equal("82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc", Convert.ToHexStringLower(subkey));
    }

    private static readonly byte[] DraftPlaintext = Encoding.ASCII.GetBytes(
        "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.");

    private const string DraftCiphertext =
        "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
        + "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e";

    [Fact]
    public void XChaCha20Poly1305_SealsDraftVector_AndOpensIt()
    {
        byte[] key = Enumerable.Range(0x80, 32).Select(i => (byte)i).ToArray();
        byte[] nonce = Enumerable.Range(0x40, 24).Select(i => (byte)i).ToArray();
        byte[] aad = Convert.FromHexString("50515253c0c1c2c3c4c5c6c7");
        using var aead = new XChaCha20Poly1305(key);
        var ciphertext = new byte[DraftPlaintext.Length];
        var tag = new byte[16];

        aead.Encrypt(nonce, DraftPlaintext, ciphertext, tag, aad);
        var opened = new byte[ciphertext.Length];
        aead.Decrypt(nonce, ciphertext, tag, opened, aad);

        Assert.Equal(DraftCiphertext, Convert.ToHexStringLower(ciphertext));
        Assert.Equal("c0875924c1c7987947deafd8780acf49", Convert.ToHexStringLower(tag));
        Assert.Equal(DraftPlaintext, opened);
        tag[0] ^= 1;
        Assert.ThrowsAny<System.Security.Cryptography.CryptographicException>(() => aead.Decrypt(nonce, ciphertext, tag, opened, aad));
    }

    [Fact]
    public void XChaChaMethod_ChunksRoundTrip_WithCounterNonces()
    {
        var method = ShadowsocksMethod.Find("xchacha20-ietf-poly1305")!;
        var salt = new byte[method.SaltSize];
        using var sender = method.Subkey(method.MasterKey("right"), salt);
        using var receiver = method.Subkey(method.MasterKey("right"), salt);
        using var wrong = method.Subkey(method.MasterKey("wrong"), salt);
        var sealedChunk = new byte[5 + 16];
        var plain = new byte[5];

        for (int i = 0; i < 3; i++)
        {
            sender.Seal("hello"u8, sealedChunk);
            Assert.True(receiver.Open(sealedChunk, plain));
            Assert.Equal("hello"u8.ToArray(), plain);
        }
        Assert.False(wrong.Open(sealedChunk, plain));
        Assert.Equal(24, method.NonceSize);
    }

    /// <summary>The official vectors' input: the bytes 0..250 repeated.</summary>
    private static byte[] VectorInput(int length) => Enumerable.Range(0, length).Select(i => (byte)(i % 251)).ToArray();

    [Theory]
    [InlineData(0, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262")]
    [InlineData(1, "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213")]
    [InlineData(64, "4eed7141ea4a5cd4b788606bd23f46e212af9cacebacdc7d1f4c6dc7f2511b98")]
    [InlineData(65, "de1e5fa0be70df6d2be8fffd0e99ceaa8eb6e8c93a63f2d8d1c30ecb6b263dee")]
    [InlineData(1024, "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7")]
    [InlineData(1025, "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444")]
    [InlineData(3073, "7124b49501012f81cc7f11ca069ec9226cecb8a2c850cfe644e327d22d3e1cd3")]
    [InlineData(31744, "62b6960e1a44bcc1eb1a611a8d6235b6b4b78f32e7abc4fb4c6cdcce94895c47")]
    public void Blake3Hash_MatchesOfficialVectors(int length, string expected)
    {
        var output = new byte[32];

        Blake3.Hash(VectorInput(length), output);

        Assert.Equal(expected, Convert.ToHexStringLower(output));
    }

    [Theory]
    [InlineData(0, "2cc39783c223154fea8dfb7c1b1660f2ac2dcbd1c1de8277b0b0dd39b7e50d7d905630c8be290dfc")]
    [InlineData(1, "b3e2e340a117a499c6cf2398a19ee0d29cca2bb7404c73063382693bf66cb06c5827b91bf889b6b9")]
    [InlineData(63, "b6451e30b953c206e34644c6803724e9d2725e0893039cfc49584f991f451af3b89e8ff572d3da4f")]
    [InlineData(1023, "74a16c1c3d44368a86e1ca6df64be6a2f64cce8f09220787450722d85725dea59c413264404661e9")]
    [InlineData(2049, "2ea477c5515cc3dd606512ee72bb3e0e758cfae7232826f35fb98ca1bcbdf27316d8e9e79081a80b")]
    [InlineData(7169, "554b0a5efea9ef183f2f9b931b7497995d9eb26f5c5c6dad2b97d62fc5ac31d99b20652c016d88ba")]
    public void Blake3DeriveKey_MatchesOfficialVectors_IncludingExtendedOutput(int length, string expected)
    {
        var output = new byte[40];

        Blake3.DeriveKey("BLAKE3 2019-12-27 16:29:52 test vectors context", VectorInput(length), output);

        Assert.Equal(expected, Convert.ToHexStringLower(output));
    }

    [Fact]
    public void Blake3DeriveKey_AgreesWithBouncyCastle_ForSessionSubkeys()
    {
        byte[] material = Enumerable.Range(7, 64).Select(i => (byte)(i * 13)).ToArray();
        var ours = new byte[32];
        Blake3.DeriveKey(ShadowsocksMethod.SessionSubkeyContext, material, ours);

        var digest = new Org.BouncyCastle.Crypto.Digests.Blake3Digest(256);
        digest.Init(Org.BouncyCastle.Crypto.Parameters.Blake3Parameters.Context(Encoding.UTF8.GetBytes(ShadowsocksMethod.SessionSubkeyContext)));
        digest.BlockUpdate(material, 0, material.Length);
        var theirs = new byte[32];
        digest.DoFinal(theirs, 0);

        Assert.Equal(Convert.ToHexStringLower(theirs), Convert.ToHexStringLower(ours));
    }
}
