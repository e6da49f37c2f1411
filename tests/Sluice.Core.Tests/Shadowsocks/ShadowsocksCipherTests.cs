using Sluice.Core.Outbounds.Shadowsocks;

namespace Sluice.Core.Tests.Shadowsocks;

public sealed class ShadowsocksCipherTests
{
    [Fact]
    public void MasterKey_IsEvpBytesToKeyMd5()
    {
        // EVP_BytesToKey(MD5, "password", 32): MD5("password") || MD5(MD5("password") || "password").
        var key = ShadowsocksMethod.Find("aes-256-gcm")!.MasterKey("password");

        Assert.Equal("5f4dcc3b5aa765d61d8327deb882cf992b95990a9151374abd8ff8c5a7a0fe08", Convert.ToHexStringLower(key));
    }

    [Theory]
    [InlineData("aes-128-gcm")]
    [InlineData("aes-256-gcm")]
    [InlineData("chacha20-ietf-poly1305")]
    public void SealedChunks_OpenWithSameSubkey_AndFailWithWrongPassword(string name)
    {
        var method = ShadowsocksMethod.Find(name)!;
        byte[] salt = new byte[method.SaltSize];
        Random.Shared.NextBytes(salt);
        using var a = method.Subkey(method.MasterKey("right"), salt);
        using var b = method.Subkey(method.MasterKey("right"), salt);
        using var wrong = method.Subkey(method.MasterKey("wrong"), salt);
        byte[] plain = "hello shadowsocks"u8.ToArray();
        byte[] sealed1 = new byte[plain.Length + 16];
        byte[] sealed2 = new byte[plain.Length + 16];
        a.Seal(plain, sealed1);
        a.Seal(plain, sealed2);
        byte[] output = new byte[plain.Length];

        Assert.NotEqual(sealed1, sealed2); // the nonce counts up
        Assert.True(b.Open(sealed1, output));
        Assert.Equal(plain, output);
        Assert.True(b.Open(sealed2, output));
        Assert.False(wrong.Open(sealed1, output));
    }
}
