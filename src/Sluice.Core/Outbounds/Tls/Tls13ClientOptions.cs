using System.Security.Cryptography.X509Certificates;

namespace Sluice.Core.Outbounds.Tls;

/// <summary>What Sluice's own TLS 1.3 client needs to reach one server.</summary>
internal sealed record Tls13ClientOptions
{
    /// <summary>The server as the error messages name it ("host:port").</summary>
    public required string Endpoint { get; init; }

    /// <summary>SNI and the name the certificate must carry; an IP address sends no SNI.</summary>
    public required string ServerName { get; init; }

    /// <summary>False for tls.disable_sni: no server_name extension (the certificate is still checked against <see cref="ServerName"/>).</summary>
    public bool SendSni { get; init; } = true;

    /// <summary>ALPN protocols offered; empty offers Chrome's "h2", "http/1.1" (or none, see <see cref="ChromeAlpnWhenEmpty"/>).</summary>
    public IReadOnlyList<string> Alpn { get; init; } = [];

    /// <summary>
    /// True (utls, Reality): an empty <see cref="Alpn"/> offers Chrome's two, as Chrome would. False (the default TLS
    /// client of an outbound): exactly what is configured, so none when none is (a server would otherwise pick "h2").
    /// </summary>
    public bool ChromeAlpnWhenEmpty { get; init; } = true;

    /// <summary>Pinned CA certificates (<c>certificate</c>/<c>certificate_path</c>); null trusts the system roots.</summary>
    public X509Certificate2Collection? TrustedRoots { get; init; }

    /// <summary><c>insecure</c>: accept any certificate chain and name (the CertificateVerify signature is still checked).</summary>
    public bool Insecure { get; init; }

    /// <summary>
    /// The outbound's trust (pinned: one chain against the pins; system: the anchor reuse of <see cref="TlsTrust"/>;
    /// insecure: no chain at all), shared with its SslStream path; null: <see cref="TrustedRoots"/>/<see cref="Insecure"/>
    /// with a chain built per connection (<see cref="ServerCertificateValidator"/>).
    /// </summary>
    public TlsTrust? Trust { get; init; }

    /// <summary>The key share's X25519 (the platform's, e.g. libcrypto); null: <see cref="ManagedX25519"/>.</summary>
    public IX25519? X25519 { get; init; }

    /// <summary>Keeps the server's parsed public key for the next CertificateVerify from the same leaf; null parses it per connection.</summary>
    public ServerKeyCache? ServerKeys { get; init; }

    /// <summary>Reality (or another scheme) hooking the ClientHello and the certificate decision; null for plain TLS.</summary>
    public ITls13HandshakeHooks? Hooks { get; init; }

    /// <summary>
    /// Holds the client's last flight (CCS, Finished) back until the first write, which then carries it in the same
    /// segment (the server reads both in one wake-up), or until the first read. False for Vision, which takes the
    /// transport over after the handshake.
    /// </summary>
    public bool DeferFinished { get; init; }

    /// <summary>
    /// The outbound's session tickets: a hello offers one (psk_dhe_ke, RFC 8446 §2.2) and a finished connection keeps the
    /// server's new ones. Null (the default, and always with <see cref="Hooks"/>: Reality) resumes nothing.
    /// </summary>
    public TlsSessionCache? Sessions { get; init; }

    /// <summary>The server in the session key (<see cref="TlsSessionKey"/>); null: <see cref="Endpoint"/>.</summary>
    public string? SessionServer { get; init; }

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Default 10 s: a server that does not finish the handshake by then is treated as down.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>Points where a scheme layered on TLS 1.3 (Reality) changes the handshake.</summary>
internal interface ITls13HandshakeHooks
{
    /// <summary>Fills <see cref="ClientHello.SessionId"/> before the hello is sent (it is all zeros on entry).</summary>
    void OnClientHello(ClientHello hello);

    /// <summary>
    /// Decides on the server's leaf certificate (DER) before any chain validation: true accepts it without a chain;
    /// false falls through to ordinary validation; throwing refuses the server.
    /// </summary>
    bool AcceptCertificate(ReadOnlySpan<byte> leafDer);
}
