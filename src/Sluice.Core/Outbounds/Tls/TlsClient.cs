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
/// Which client runs a connection (<see cref="Choose"/>): with tls.utls, tls.reality, and for Vision, Sluice's own TLS 1.3
/// client with a Chrome-shaped hello (TlsClient.Own.cs); else, when the versions allow TLS 1.3 and no cipher_suites are
/// set, the own client too, offering exactly the configured ALPN (its handshake costs about half of SslStream's: no
/// chain build for insecure, libcrypto's X25519, the server's key parsed once); else the runtime's (OpenSSL through
/// SslStream). A server that answers the own client with TLS 1.2 makes the outbound use SslStream from then on: that
/// connection is dialed again once, and one info line says so.
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
    private readonly IReadOnlyList<string> _defaultAlpn;
    private readonly IX25519? _x25519;
    private readonly ServerKeyCache _serverKeys = new();
    private readonly TlsSessionCache _sessions = new(EngineLimits.Default.TlsSessionTickets, TimeProvider.System);
    private readonly ILogger _logger;
    private readonly TlsClientKind _kind;
    private int _serverSpeaksTls12; // 1 once a server answered the own client with TLS 1.2

    /// <param name="serverHost">The outbound's "server": the name checked when server_name is absent.</param>
    /// <param name="who">"trojan \"tag\" (host:port)", the prefix of every message.</param>
    /// <param name="httpTransport">
    /// An HTTP/1.1 transport (WebSocket) runs inside: with no alpn configured the own client then offers only
    /// "http/1.1", not Chrome's "h2" first, which a server or CDN would pick and then refuse the upgrade.
    /// </param>
    /// <param name="h2Transport">
    /// An HTTP/2 transport (http, grpc) runs inside: with no alpn configured every client offers "h2" alone, as sing-box
    /// sets for them (the tunnel then speaks HTTP/2 over the connection without asking).
    /// </param>
    /// <param name="x25519">The own client's key-share X25519 (<see cref="EnginePlatform.X25519"/>); null: the managed one.</param>
    public TlsClient(TlsClientOptions options, string serverHost, string who, ILogger logger, bool httpTransport = false, IX25519? x25519 = null,
        bool h2Transport = false)
    {
        _x25519 = x25519;
        _logger = logger;
        _kind = Choose(options);
        _options = options;
        _name = options.ServerName ?? serverHost.Trim('[', ']');
        _who = who;
        X509Certificate2Collection? pinned = null;
        if (options.CertificatePem is { } pem) pinned = Load(pem, "certificate");
        else if (options.CertificatePath is { } path) pinned = Load(ReadPem(options.Files, path), $"certificate_path {path}");
        _trust = new TlsTrust(_name, options.Insecure, pinned);
        _pinned = pinned;
        _defaultAlpn = options.Alpn.Count == 0 && h2Transport ? ["h2"] : options.Alpn;
        _alpn = _defaultAlpn.Count == 0 ? null : _defaultAlpn.Select(a => new SslApplicationProtocol(a)).ToList();
        if (options.CipherSuites.Count > 0 && OperatingSystem.IsLinux())
            _suites = new CipherSuitesPolicy(options.CipherSuites.Select(Enum.Parse<TlsCipherSuite>));
        _ownAlpn = options.Alpn.Count == 0 && httpTransport ? ["http/1.1"] : _defaultAlpn;
        if (options.Insecure) LogInsecure(logger, who);
        if (options.UtlsFingerprint is { } fingerprint && !UtlsFingerprints.IsHonoured(fingerprint)) LogFingerprintMapped(logger, who, fingerprint);
    }

    /// <summary>The name the certificate must hold.</summary>
    public string ServerName => _name;

    /// <summary>Which client this outbound's connections start with.</summary>
    internal TlsClientKind Kind => _kind == TlsClientKind.Own && Volatile.Read(ref _serverSpeaksTls12) == 1 ? TlsClientKind.Runtime : _kind;

    /// <summary>
    /// The client for an outbound's tls object: Chrome-shaped own for utls/Reality; own when TLS 1.3 is allowed and
    /// cipher_suites is empty (the own client offers its fixed TLS 1.3 suites, so a configured list goes to SslStream,
    /// which offers exactly that); the runtime's otherwise (max_version 1.2, cipher_suites).
    /// </summary>
    internal static TlsClientKind Choose(TlsClientOptions options) =>
        options.Reality is { Enabled: true } || options.UtlsFingerprint is not null ? TlsClientKind.OwnChromeShaped
        : (options.Protocols & SslProtocols.Tls13) != 0 && options.CipherSuites.Count == 0 ? TlsClientKind.Own
        : TlsClientKind.Runtime;

    /// <summary>
    /// Runs the handshake over <paramref name="transport"/> (owned: disposed on failure and with the result).
    /// <paramref name="redial"/> opens a new connection to the server, for the one retry over SslStream after the own
    /// client met a TLS 1.2 server; null: that connection fails (with a message that says the next one will work).
    /// </summary>
    public async ValueTask<Stream> ConnectAsync(Stream transport, CancellationToken cancellationToken,
        Func<CancellationToken, ValueTask<Stream>>? redial = null)
    {
        if (_options.Reality is { Enabled: true } reality)
            return await ConnectOwnAsync(transport, new Reality.RealityHandshakeHooks(reality, TimeProvider.System), cancellationToken);
        if (_options.UtlsFingerprint is not null) return await ConnectOwnAsync(transport, null, cancellationToken, forUtls: true);
        if (Kind == TlsClientKind.Own)
        {
            try
            {
                return await ConnectOwnAsync(transport, null, cancellationToken, asDefault: true);
            }
            catch (TlsVersionFallback) when (redial is not null)
            {
                transport = await redial(cancellationToken);
            }
            catch (TlsVersionFallback fallback)
            {
                throw new OutboundException($"{_who}: {fallback.Message}; the next connection uses TLS 1.2", fallback.InnerException);
            }
        }
        return await ConnectRuntimeAsync(transport, cancellationToken);
    }

    /// <summary>SslStream: OpenSSL's hello, versions, ALPN and cipher suites as configured, the certificate by <see cref="TlsTrust"/>.</summary>
    private async ValueTask<Stream> ConnectRuntimeAsync(Stream transport, CancellationToken cancellationToken)
    {
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

    [LoggerMessage(Level = LogLevel.Information, Message = "{Who}: the server answered with TLS 1.2: this outbound's TLS runs over the runtime's client (SslStream) from now on")]
    private static partial void LogTls12Server(ILogger logger, string who);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Who}: utls.fingerprint \"{Fingerprint}\" is not built into Sluice: its ClientHello has Chrome's shape instead")]
    private static partial void LogFingerprintMapped(ILogger logger, string who, string fingerprint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Who}: tls.insecure is set: the server's certificate is NOT checked, so anyone on the path can read and change this outbound's traffic")]
    private static partial void LogInsecure(ILogger logger, string who);
}

/// <summary>The TLS client a connection runs (<see cref="TlsClient.Choose"/>).</summary>
internal enum TlsClientKind
{
    /// <summary>SslStream over OpenSSL (or the platform's TLS).</summary>
    Runtime,

    /// <summary>Sluice's own TLS 1.3 client, offering exactly the configured ALPN; falls back to <see cref="Runtime"/> for a TLS 1.2 server.</summary>
    Own,

    /// <summary>The own client with Chrome's hello and ALPN (utls, Reality, Vision): TLS 1.3 only.</summary>
    OwnChromeShaped,
}

/// <summary>The own client met a TLS 1.2 server; the outbound has switched to SslStream and the caller dials again.</summary>
internal sealed class TlsVersionFallback(string message, Exception inner) : Exception(message, inner);
