using System.Security.Cryptography;
using Sluice.Platform.Linux.Crypto;

namespace Sluice.Platform.Linux.Tests.Crypto;

/// <summary>The libcrypto transport cipher of the WireGuard lane against the runtime's ChaCha20Poly1305.</summary>
public sealed class OpenSslPacketCipherTests
{
    [Fact]
    public void IsUsedOnThisMachine_NotSilentlyReplacedByTheFallback()
    {
        // Debian 12 ships libcrypto.so.3 (libssl3); the runtime's cipher here would mean every engine fell back unnoticed.
        Assert.True(OpenSslPacketCipher.Usable);
        using var cipher = OpenSslPacketCipher.Factory(new byte[32]);
        Assert.IsType<OpenSslPacketCipher>(cipher);
    }

    [Theory]
    [InlineData(0)] // a keepalive
    [InlineData(1)]
    [InlineData(16)]
    [InlineData(63)]
    [InlineData(64)]
    [InlineData(65)]
    [InlineData(1420)]
    [InlineData(65535)]
    public void SealsAsTheRuntimeDoes_AndOpensWhatTheRuntimeSealed(int length)
    {
        var (key, nonce, plain) = Random(length);
        using var runtime = new ChaCha20Poly1305(key);
        using var cipher = OpenSslPacketCipher.Factory(key);

        var ours = (byte[])plain.Clone();
        var ourTag = new byte[16];
        cipher.Seal(nonce, ours, ourTag);
        var theirs = new byte[length];
        var theirTag = new byte[16];
        runtime.Encrypt(nonce, plain, theirs, theirTag);
        Assert.Equal(theirs, ours);
        Assert.Equal(theirTag, ourTag);

        Assert.True(cipher.Open(nonce, theirs, theirTag));
        Assert.Equal(plain, theirs);
    }

    [Fact]
    public void OneContext_SealsAndOpensManyPacketsInTurn_EachWithItsOwnNonce()
    {
        var (key, _, _) = Random(0);
        using var sender = OpenSslPacketCipher.Factory(key);
        using var receiver = OpenSslPacketCipher.Factory(key);
        using var runtime = new ChaCha20Poly1305(key);
        var nonce = new byte[12];
        for (ulong counter = 0; counter < 200; counter++)
        {
            BitConverter.TryWriteBytes(nonce.AsSpan(4), counter);
            var plain = RandomNumberGenerator.GetBytes((int)(counter * 7 % 1500));
            var packet = (byte[])plain.Clone();
            var tag = new byte[16];
            sender.Seal(nonce, packet, tag);
            var check = new byte[packet.Length];
            runtime.Decrypt(nonce, packet, tag, check);
            Assert.Equal(plain, check);
            Assert.True(receiver.Open(nonce, packet, tag));
            Assert.Equal(plain, packet);
        }
    }

    [Fact]
    public void RefusesAChangedTagCiphertextOrNonce_AndLeavesNoPlaintext()
    {
        var (key, nonce, plain) = Random(300);
        using var cipher = OpenSslPacketCipher.Factory(key);
        var packet = (byte[])plain.Clone();
        var tag = new byte[16];
        cipher.Seal(nonce, packet, tag);

        var badTag = (byte[])tag.Clone();
        badTag[15] ^= 0x80;
        var copy = (byte[])packet.Clone();
        Assert.False(cipher.Open(nonce, copy, badTag));
        Assert.All(copy, b => Assert.Equal(0, b));

        copy = (byte[])packet.Clone();
        copy[100] ^= 1;
        Assert.False(cipher.Open(nonce, copy, tag));

        var otherNonce = (byte[])nonce.Clone();
        otherNonce[11] ^= 1;
        copy = (byte[])packet.Clone();
        Assert.False(cipher.Open(otherNonce, copy, tag));

        // The context is still good after the refusals.
        Assert.True(cipher.Open(nonce, packet, tag));
        Assert.Equal(plain, packet);
    }

    /// <summary>
    /// Known answers from outside .NET: RFC 8439 §2.8.2's key, nonce and plaintext, sealed without associated data
    /// (WireGuard's transport messages have none) by Debian's python3-cryptography, whose tag with the RFC's
    /// associated data is the RFC's own (1ae10b59…); and an empty payload (a keepalive) under the zero nonce.
    /// </summary>
    [Theory]
    [InlineData("openssl")]
    [InlineData("runtime")]
    public void SealsToTheKnownAnswersOfAnIndependentLibrary_AndOpensThem(string implementation)
    {
        byte[] key = Enumerable.Range(0x80, 32).Select(b => (byte)b).ToArray();
        var factory = implementation == "openssl" ? OpenSslPacketCipher.Factory : Sluice.Core.Outbounds.WireGuard.RuntimePacketCipher.Factory;
        using var cipher = factory(key);

        byte[] plain = "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it."u8.ToArray();
        byte[] nonce = Convert.FromHexString("070000004041424344454647");
        var sealedText = (byte[])plain.Clone();
        var tag = new byte[16];
        cipher.Seal(nonce, sealedText, tag);
        Assert.Equal(
            "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b29" +
            "05d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116",
            Convert.ToHexStringLower(sealedText));
        Assert.Equal("6a23a4681fd59456aea1d29f82477216", Convert.ToHexStringLower(tag));
        Assert.True(cipher.Open(nonce, sealedText, tag));
        Assert.Equal(plain, sealedText);

        var keepaliveTag = new byte[16];
        cipher.Seal(new byte[12], [], keepaliveTag);
        Assert.Equal("3ae5d3f2a376d317eaea5aef0215ba54", Convert.ToHexStringLower(keepaliveTag));
    }

    [Fact]
    public void ADisposedCipherRefusesWork_AndDisposingTwiceIsHarmless()
    {
        var (key, nonce, _) = Random(0);
        var cipher = OpenSslPacketCipher.Factory(key);
        cipher.Dispose();
        cipher.Dispose();
        Assert.Throws<ObjectDisposedException>(() => cipher.Seal(nonce, new byte[4], new byte[16]));
    }

    private static (byte[] Key, byte[] Nonce, byte[] Plain) Random(int length) =>
        (RandomNumberGenerator.GetBytes(32), RandomNumberGenerator.GetBytes(12), RandomNumberGenerator.GetBytes(length));
}
