using System.Security.Authentication;

namespace Sluice.Core.Outbounds.Tls;

/// <summary>
/// sing-box's outbound "tls" object, shared by every TLS-carrying outbound (trojan, vless, …).
/// Certificate validation is on unless <see cref="Insecure"/>: the chain must lead to a system root,
/// or to the pinned CA when <see cref="CertificatePem"/>/<see cref="CertificatePath"/> is set, and the
/// leaf must name <see cref="ServerName"/> (default: the outbound's server).
/// </summary>
/// <param name="ServerName">The name sent as SNI and checked in the certificate; null = the outbound's "server".</param>
/// <param name="DisableSni">"disable_sni": no SNI is sent; the certificate is still checked against the server name.</param>
/// <param name="Insecure">Accept any certificate. Risk: anyone on the path can read and change the traffic. Logged once per outbound.</param>
/// <param name="Alpn">Offered application protocols, in order; empty offers none.</param>
/// <param name="Protocols">The versions between min_version (default 1.2) and max_version (default 1.3).</param>
/// <param name="CipherSuites">"cipher_suites" by IANA name (TLS_AES_128_GCM_SHA256, …); empty = the runtime's defaults.</param>
/// <param name="CertificatePem">"certificate": the pinned CA(s) as PEM text; null = system roots.</param>
/// <param name="CertificatePath">"certificate_path": a PEM file read when the outbound is created; null = none.</param>
/// <param name="UtlsFingerprint">
/// "utls.fingerprint" as written (chrome, firefox, …), recorded only: with SslStream the ClientHello is the
/// runtime's (OpenSSL's) shape. The Reality client (own TLS stack) is what honours it.
/// </param>
public sealed record TlsClientOptions(
    string? ServerName,
    bool DisableSni,
    bool Insecure,
    IReadOnlyList<string> Alpn,
    SslProtocols Protocols,
    IReadOnlyList<string> CipherSuites,
    string? CertificatePem,
    string? CertificatePath,
    string? UtlsFingerprint,
    RealityOptions? Reality)
{
    public const SslProtocols DefaultProtocols = SslProtocols.Tls12 | SslProtocols.Tls13;

    /// <summary>How the file it names is read (the config's origin decides: the API caller's rights, caps, regular files only).</summary>
    public Sluice.Core.Configuration.IFileSource Files { get; init; } = Sluice.Core.Configuration.BoundedFileSource.Instance;
}

/// <summary>
/// "tls.reality": a Reality server (Xray's TLS camouflage). The connection then runs Sluice's own TLS 1.3
/// client (<see cref="Tls13ClientStream"/>) with <see cref="Reality.RealityHandshakeHooks"/>.
/// </summary>
/// <param name="PublicKey">The server's X25519 public key (32 bytes; base64url in the config).</param>
/// <param name="ShortId">0–8 bytes (hex in the config) the server knows this client by.</param>
public sealed record RealityOptions(bool Enabled, byte[] PublicKey, byte[] ShortId);
