using System.Security.Cryptography;
using Sluice.Core.Outbounds.Tls;

namespace Sluice.Core.Outbounds.Reality;

/// <summary>
/// Reality on Sluice's TLS 1.3 client, per connection: seals the session id into the ClientHello and accepts
/// the server only on its HMAC-signed certificate. Anything else (an ordinary certificate, which is what a
/// Reality server forwards when it cannot authenticate the hello: wrong public key, unknown short id, clock
/// too far off) ends the handshake with <see cref="NotRealityMessage"/>. One instance per connection.
/// </summary>
internal sealed class RealityHandshakeHooks(RealityOptions options, TimeProvider time) : ITls13HandshakeHooks
{
    public const string NotRealityMessage = "the server answered with a real certificate: not a Reality server, or the public key is wrong";

    private readonly byte[] _authKey = new byte[RealityAuth.KeyLength];
    private bool _sealed;

    public void OnClientHello(ClientHello hello)
    {
        if (!RealityAuth.TryDeriveAuthKey(hello.KeySharePrivate, options.PublicKey, hello.Random, _authKey))
            throw new TlsException("the Reality public key is not a usable X25519 key (low-order point)", TlsAlert.InternalError);
        Span<byte> plaintext = stackalloc byte[16];
        RealityAuth.SessionIdPlaintext((uint)time.GetUtcNow().ToUnixTimeSeconds(), options.ShortId.AsSpan(0, Math.Min(options.ShortId.Length, RealityAuth.ShortIdLength)), plaintext);
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
