using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using Sluice.Core.Outbounds.Reality;
using Sluice.Core.Outbounds.Tls;
using Sluice.Core.Tests.Groups;

namespace Sluice.Core.Tests.Reality;

/// <summary>
/// The Reality derivation against values Debian's python3-cryptography computes at test time (reality_kat.py):
/// the shared secret, the auth key, the sealed session id over a real Chrome-shaped ClientHello, and the
/// certificate HMAC check.
/// </summary>
public sealed class RealityKnownAnswerTests
{
    private const string ShortId = "0123abcd";

    [Fact]
    public void SessionId_AuthKey_AndCertificateCheck_MatchPythonCryptography()
    {
        var serverPrivate = RandomNumberGenerator.GetBytes(32);
        var hello = ClientHello.Build("www.example.com", []);
        var zeroedHello = hello.Message.ToArray();
        var clock = new FakeClock();
        uint unixTime = (uint)clock.GetUtcNow().ToUnixTimeSeconds();

        var python = RunPython(hello.KeySharePrivate, serverPrivate, zeroedHello, unixTime);
        var serverPublic = Hex(python, "server_public");
        var options = RealityClientOptions.Parse(Base64Url(serverPublic), ShortId, "outbounds[0].tls.reality");
        var hooks = new RealityHandshakeHooks(options, clock);
        hooks.OnClientHello(hello);

        Assert.Equal(Hex(python, "client_public"), hello.KeySharePublic);
        Assert.Equal(Hex(python, "shared"), Hex(python, "server_view_shared"));
        var authKey = new byte[32];
        Assert.True(RealityAuth.TryDeriveAuthKey(hello.KeySharePrivate, serverPublic, hello.Random, authKey));
        Assert.Equal(Convert.ToHexString(Hex(python, "auth_key")), Convert.ToHexString(authKey));
        Assert.Equal(Convert.ToHexString(Hex(python, "session_id")), Convert.ToHexString(hello.SessionId));
        Assert.Equal(zeroedHello.AsSpan(0, ClientHello.SessionIdOffset).ToArray(), hello.Message.AsSpan(0, ClientHello.SessionIdOffset).ToArray());

        Assert.True(RealityAuth.IsRealityCertificate(authKey, Hex(python, "reality_certificate")));
        Assert.False(RealityAuth.IsRealityCertificate(authKey, Hex(python, "ordinary_certificate")));
        Assert.True(hooks.AcceptCertificate(Hex(python, "reality_certificate")));
    }

    [Fact]
    public void OrdinaryCertificate_IsRefused_WithTheRealityError()
    {
        var serverPrivate = RandomNumberGenerator.GetBytes(32);
        var hello = ClientHello.Build("www.example.com", []);
        var python = RunPython(hello.KeySharePrivate, serverPrivate, hello.Message.ToArray(), 0);
        var hooks = new RealityHandshakeHooks(RealityClientOptions.Parse(Base64Url(Hex(python, "server_public")), ShortId, "r"), new FakeClock());
        hooks.OnClientHello(hello);

        var error = Assert.Throws<TlsException>(() => hooks.AcceptCertificate(Hex(python, "ordinary_certificate")));
        Assert.Equal("the server answered with a real certificate: not a Reality server, or the public key is wrong", error.Message);
    }

    [Theory]
    [InlineData("", "abcd", "r.public_key: required when reality is enabled")]
    [InlineData("AAAA", "abcd", "r.public_key: \"AAAA\" is not a base64url 32-byte X25519 key")]
    [InlineData("jNXHt1yRo0vDuchQlIP6Z0ZvjT3KtzVI-T4E7RoLJS0", "abc", "r.short_id: \"abc\" is not up to 16 hex digits (an even count)")]
    [InlineData("jNXHt1yRo0vDuchQlIP6Z0ZvjT3KtzVI-T4E7RoLJS0", "0123456789abcdef01", "r.short_id: \"0123456789abcdef01\" is not up to 16 hex digits (an even count)")]
    public void BadRealityFields_NameTheField(string publicKey, string shortId, string message)
    {
        var error = Assert.Throws<FormatException>(() => RealityClientOptions.Parse(publicKey, shortId, "r"));
        Assert.Equal(message, error.Message);
    }

    private static JsonElement RunPython(byte[] clientPrivate, byte[] serverPrivate, byte[] zeroedHello, uint unixTime)
    {
        var info = new ProcessStartInfo("/usr/bin/python3", [Path.Combine(AppContext.BaseDirectory, "Reality", "reality_kat.py")])
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        using var process = Process.Start(info)!;
        process.StandardInput.Write(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["client_private"] = Convert.ToHexString(clientPrivate), ["server_private"] = Convert.ToHexString(serverPrivate),
            ["hello"] = Convert.ToHexString(zeroedHello), ["unix_time"] = unixTime, ["short_id"] = ShortId,
            ["version"] = Convert.ToHexString(RealityAuth.ClientVersion),
        }));
        process.StandardInput.Close();
        string output = process.StandardOutput.ReadToEnd(), error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, "reality_kat.py failed: " + error);
        return JsonDocument.Parse(output).RootElement;
    }

    private static byte[] Hex(JsonElement json, string name) => Convert.FromHexString(json.GetProperty(name).GetString()!);

    private static string Base64Url(byte[] key) => Convert.ToBase64String(key).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
