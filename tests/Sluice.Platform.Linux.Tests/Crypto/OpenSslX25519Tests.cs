using System.Security.Cryptography;
using Sluice.Core.Outbounds.Tls;
using Sluice.Platform.Linux.Crypto;

namespace Sluice.Platform.Linux.Tests.Crypto;

/// <summary>libcrypto's X25519 (the own TLS client's key share on Linux) and the managed fallback: RFC 7748's vectors, and each other.</summary>
public sealed class OpenSslX25519Tests
{
    public static TheoryData<string> Implementations => ["libcrypto", "managed"];

    private static IX25519 Pick(string name) => name == "libcrypto" ? OpenSslX25519.Instance : ManagedX25519.Instance;

    [Fact]
    public void IsUsedOnThisMachine_NotSilentlyReplacedByTheFallback()
    {
        Assert.True(OpenSslX25519.Usable); // Debian 12 ships libcrypto.so.3
    }

    /// <summary>RFC 7748 §5.2: two scalar multiplications of arbitrary points.</summary>
    [Theory]
    [MemberData(nameof(Implementations))]
    public void ScalarMultiplication_GivesRfc7748Section5Vectors(string implementation)
    {
        var x25519 = Pick(implementation);
        var shared = new byte[32];
        Assert.True(x25519.Agree(Hex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
            Hex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"), shared));
        Assert.Equal("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552", Convert.ToHexStringLower(shared));
        Assert.True(x25519.Agree(Hex("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d"),
            Hex("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493"), shared));
        Assert.Equal("95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957", Convert.ToHexStringLower(shared));
    }

    /// <summary>RFC 7748 §6.1: Alice's and Bob's public keys from their private keys, and the secret both compute.</summary>
    [Theory]
    [MemberData(nameof(Implementations))]
    public void DiffieHellman_GivesRfc7748Section6Vectors(string implementation)
    {
        var x25519 = Pick(implementation);
        var alice = Hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        var bob = Hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
        var alicePublic = new byte[32];
        var bobPublic = new byte[32];
        x25519.PublicKey(alice, alicePublic);
        x25519.PublicKey(bob, bobPublic);
        Assert.Equal("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", Convert.ToHexStringLower(alicePublic));
        Assert.Equal("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", Convert.ToHexStringLower(bobPublic));
        var aliceShared = new byte[32];
        var bobShared = new byte[32];
        Assert.True(x25519.Agree(alice, bobPublic, aliceShared));
        Assert.True(x25519.Agree(bob, alicePublic, bobShared));
        Assert.Equal("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", Convert.ToHexStringLower(aliceShared));
        Assert.Equal(aliceShared, bobShared);
    }

    [Fact]
    public void LibcryptoAndManaged_AgreeOnRandomKeys()
    {
        for (int i = 0; i < 200; i++)
        {
            var a = RandomNumberGenerator.GetBytes(32);
            var b = RandomNumberGenerator.GetBytes(32);
            byte[] ours = new byte[32], theirs = new byte[32], sharedOurs = new byte[32], sharedTheirs = new byte[32];
            OpenSslX25519.Instance.PublicKey(a, ours);
            ManagedX25519.Instance.PublicKey(a, theirs);
            Assert.Equal(theirs, ours);
            ManagedX25519.Instance.PublicKey(b, theirs);
            Assert.True(OpenSslX25519.Instance.Agree(a, theirs, sharedOurs));
            Assert.True(ManagedX25519.Instance.Agree(a, theirs, sharedTheirs));
            Assert.Equal(sharedTheirs, sharedOurs);
        }
    }

    /// <summary>RFC 8446 §7.4.2: a peer key of small order gives the all-zero secret, which must be refused, not used.</summary>
    [Theory]
    [MemberData(nameof(Implementations))]
    public void LowOrderPeerKey_IsRefused(string implementation)
    {
        var x25519 = Pick(implementation);
        var shared = new byte[32];
        Assert.False(x25519.Agree(RandomNumberGenerator.GetBytes(32), new byte[32], shared)); // u = 0
        var one = new byte[32];
        one[0] = 1;
        Assert.False(x25519.Agree(RandomNumberGenerator.GetBytes(32), one, shared)); // u = 1, order 4
        Assert.False(x25519.Agree(RandomNumberGenerator.GetBytes(32), new byte[31], shared)); // wrong length
    }

    private static byte[] Hex(string hex) => Convert.FromHexString(hex);
}
