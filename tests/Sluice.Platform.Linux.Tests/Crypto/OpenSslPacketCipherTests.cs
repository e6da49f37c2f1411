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
