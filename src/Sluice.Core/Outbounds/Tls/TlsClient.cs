using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace Sluice.Core.Outbounds.Tls;

/// <summary>
/// The TLS layer of one outbound, over the connection to its server (a socket, a detour's stream):
/// 1. SNI = server_name (default: the server's host; none for an address or with disable_sni);
/// 2. versions, ALPN and cipher suites as configured;
/// 3. the certificate is checked by <see cref="TlsTrust"/>; a refusal becomes one readable
///    <see cref="OutboundException"/> per connection.
/// Without utls the ClientHello is the runtime's (OpenSSL through SslStream). With tls.utls, tls.reality, and for
/// Vision, the connection runs Sluice's own TLS 1.3 client instead, whose hello is Chrome-shaped (TlsClient.Own.cs).
/// </summary>
internal sealed partial class TlsClient
{
    private readonly TlsClientOptions _options;
    private readonly string _name;
    private readonly TlsTrust _trust;
    private readonly string _who;
    private readonly List<SslApplicationProtocol>? _alpn;
    private readonly CipherSuitesPolicy? _suites;
    private readonly X509Certificate2Collection? _pinned;
    private readonly IReadOnlyList<string> _ownAlpn;
    private readonly IX25519? _x25519;
    private readonly ServerKeyCache _serverKeys = new();

    /// <param name="serverHost">The outbound's "server": the name checked when server_name is absent.</param>
    /// <param name="who">"trojan \"tag\" (host:port)", the prefix of every message.</param>
    /// <param name="httpTransport">
    /// An HTTP/1.1 transport (WebSocket) runs inside: with no alpn configured the own client then offers only
    /// "http/1.1", not Chrome's "h2" first, which a server or CDN would pick and then refuse the upgrade.
    /// </param>
    /// <param name="x25519">The own client's key-share X25519 (<see cref="EnginePlatform.X25519"/>); null: the managed one.</param>
    public TlsClient(TlsClientOptions options, string serverHost, string who, ILogger logger, bool httpTransport = false, IX25519? x25519 = null)
    {
        _x25519 = x25519;
        _options = options;
        _name = options.ServerName ?? serverHost.Trim('[', ']');
        _who = who;
        X509Certificate2Collection? pinned = null;
        if (options.CertificatePem is { } pem) pinned = Load(pem, "certificate");
        else if (options.CertificatePath is { } path) pinned = Load(ReadPem(options.Files, path), $"certificate_path {path}");
        _trust = new TlsTrust(_name, options.Insecure, pinned);
        _pinned = pinned;
        _alpn = options.Alpn.Count == 0 ? null : options.Alpn.Select(a => new SslApplicationProtocol(a)).ToList();
        if (options.CipherSuites.Count > 0 && OperatingSystem.IsLinux())
            _suites = new CipherSuitesPolicy(options.CipherSuites.Select(Enum.Parse<TlsCipherSuite>));
        _ownAlpn = options.Alpn.Count == 0 && httpTransport ? ["http/1.1"] : options.Alpn;
        if (options.Insecure) LogInsecure(logger, who);
        if (options.UtlsFingerprint is { } fingerprint && !UtlsFingerprints.IsHonoured(fingerprint)) LogFingerprintMapped(logger, who, fingerprint);
    }

    /// <summary>The name the certificate must hold.</summary>
    public string ServerName => _name;

    /// <summary>Runs the handshake over <paramref name="transport"/> (owned: disposed on failure and with the result).</summary>
    public async ValueTask<Stream> ConnectAsync(Stream transport, CancellationToken cancellationToken)
    {
        if (_options.Reality is { Enabled: true } reality)
            return await ConnectOwnAsync(transport, new Reality.RealityHandshakeHooks(reality, TimeProvider.System), cancellationToken);
        if (_options.UtlsFingerprint is not null) return await ConnectOwnAsync(transport, null, cancellationToken, forUtls: true);
        string? refusal = null;
        var stream = new TlsStream(transport, (_, certificate, chain, errors) => _trust.Accepts(certificate, chain, errors, out refusal));
        var client = new SslClientAuthenticationOptions
        {
            TargetHost = _options.DisableSni ? "" : _name,
            EnabledSslProtocols = _options.Protocols,
            ApplicationProtocols = _alpn,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            CertificateChainPolicy = _trust.ChainPolicy(),
            CipherSuitesPolicy = _suites,
        };
        try
        {
            await stream.AuthenticateAsClientAsync(client, cancellationToken);
            return stream;
        }
        catch (AuthenticationException e)
        {
            stream.Abort();
            throw new OutboundException($"{_who}: TLS: {refusal ?? Describe(e)}", e);
        }
        catch (IOException e)
        {
            stream.Abort();
            throw new OutboundException($"{_who}: TLS handshake failed: the server closed the connection ({e.InnerException?.Message ?? e.Message})", e);
        }
        catch
        {
            stream.Abort();
            throw;
        }
    }

    private static string Describe(AuthenticationException e) =>
        e.InnerException is { } inner ? $"handshake failed: {inner.Message}" : $"handshake failed: {e.Message}";

    private static string ReadPem(Sluice.Core.Configuration.IFileSource files, string path)
    {
        try
        {
            return System.Text.Encoding.UTF8.GetString(files.Read(path, EngineLimits.Default.PemFileBytes));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"tls.certificate_path: cannot read {path}: {e.Message}", e);
        }
    }

    private static X509Certificate2Collection Load(string pem, string what) =>
        TlsTrust.TryLoadPem(pem, out var certificates, out string? problem) ? certificates : throw new ArgumentException($"tls.{what} {problem}");

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Who}: utls.fingerprint \"{Fingerprint}\" is not built into Sluice: its ClientHello has Chrome's shape instead")]
    private static partial void LogFingerprintMapped(ILogger logger, string who, string fingerprint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Who}: tls.insecure is set: the server's certificate is NOT checked, so anyone on the path can read and change this outbound's traffic")]
    private static partial void LogInsecure(ILogger logger, string who);
}
