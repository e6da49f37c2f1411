using System.Security.Cryptography;
using Sluice.Core.Outbounds.Tls;

namespace Sluice.Core.Outbounds.Reality;

/// <summary>
/// Reality on Sluice's TLS 1.3 client, per connection: seals the session id into the ClientHello and accepts
/// the server only on its HMAC-signed certificate. Anything else (an ordinary certificate, which is what a
/// Reality server forwards when it cannot authenticate the hello: wrong public key, unknown short id, clock
/// too far off) ends the handshake with <see cref="NotRealityMessage"/>. One instance per connection.
/// </summary>
internal sealed class RealityHandshakeHooks(RealityClientOptions options, TimeProvider time) : ITls13HandshakeHooks
{
    public const string NotRealityMessage = "the server answered with a real certificate: not a Reality server, or the public key is wrong";

    private readonly byte[] _authKey = new byte[RealityAuth.KeyLength];
    private bool _sealed;

    public void OnClientHello(ClientHello hello)
    {
        if (!RealityAuth.TryDeriveAuthKey(hello.KeySharePrivate, options.PublicKey, hello.Random, _authKey))
            throw new TlsException("the Reality public key is not a usable X25519 key (low-order point)", TlsAlert.InternalError);
        Span<byte> plaintext = stackalloc byte[16];
        RealityAuth.SessionIdPlaintext((uint)time.GetUtcNow().ToUnixTimeSeconds(), options.ShortId, plaintext);
        RealityAuth.SealSessionId(_authKey, plaintext, hello.Message);
        _sealed = true;
    }

    public bool AcceptCertificate(ReadOnlySpan<byte> leafDer)
    {
        bool accepted = _sealed && RealityAuth.IsRealityCertificate(_authKey, leafDer);
        CryptographicOperations.ZeroMemory(_authKey);
        if (!accepted) throw new TlsException(NotRealityMessage, TlsAlert.BadCertificate);
        return true;
    }
}

/// <summary>
/// <c>tls.reality</c>: <c>public_key</c> (the server's X25519 key, base64url as Xray prints it; standard base64
/// accepted) and <c>short_id</c> (0–16 hex digits, zero-padded to 8 bytes; default empty).
/// </summary>
internal sealed record RealityClientOptions(byte[] PublicKey, byte[] ShortId)
{
    /// <summary>Parses the two fields; errors name <paramref name="path"/> (the JSON path of tls.reality).</summary>
    public static RealityClientOptions Parse(string? publicKey, string? shortId, string path)
    {
        if (string.IsNullOrWhiteSpace(publicKey)) throw new FormatException($"{path}.public_key: required when reality is enabled");
        var key = DecodeKey(publicKey.Trim());
        if (key is not { Length: RealityAuth.KeyLength })
            throw new FormatException($"{path}.public_key: \"{publicKey}\" is not a base64url 32-byte X25519 key");
        shortId = (shortId ?? "").Trim();
        if (shortId.Length > 2 * RealityAuth.ShortIdLength || shortId.Length % 2 != 0 || !shortId.All(Uri.IsHexDigit))
            throw new FormatException($"{path}.short_id: \"{shortId}\" is not up to 16 hex digits (an even count)");
        var id = new byte[RealityAuth.ShortIdLength];
        Convert.FromHexString(shortId).CopyTo(id, 0);
        return new RealityClientOptions(key, id);
    }

    private static byte[]? DecodeKey(string text)
    {
        string standard = text.Replace('-', '+').Replace('_', '/');
        standard = standard.PadRight(standard.Length + (4 - standard.Length % 4) % 4, '=');
        try
        {
            return Convert.FromBase64String(standard);
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
