using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Sluice.Core.Outbounds;

namespace Sluice.Core.Dns;

/// <summary>
/// DoH (RFC 8484): POST application/dns-message over HTTP/2 (HTTP/1.1 if the server offers only that).
/// The handler's ConnectCallback dials through the server's detour outbound, so the connection takes
/// the lane the config says (the tunnel, a proxy, or direct); TLS is the handler's.
/// </summary>
internal sealed class HttpsTransport : IDnsTransport
{
    private static readonly MediaTypeHeaderValue DnsMessage = new("application/dns-message");

    private readonly HttpClient _client;
    private readonly Uri _uri;
    private readonly string? _host;

    public HttpsTransport(UpstreamAddress address, string path, Func<IOutbound> outbound, DnsTlsOptions? tls)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) => await outbound().DialTcpAsync(await address.ResolveAsync(ct), ct),
            SslOptions = TlsOptions.Create(tls, targetHost: null),
            UseProxy = false,
            AllowAutoRedirect = false,
            UseCookies = false,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(90),
            EnableMultipleHttp2Connections = true,
        };
        _client = new HttpClient(handler)
        {
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
            Timeout = Timeout.InfiniteTimeSpan, // the server bounds every exchange itself
        };
        string host = address.IsLiteral && address.Server.Contains(':') ? $"[{address.Server}]" : address.Server;
        _uri = new Uri($"https://{host}:{address.Port}{path}");
        // tls.server_name: the handler takes SNI and certificate name from the Host header.
        _host = tls?.ServerName is { } name ? (address.Port == 443 ? name : $"{name}:{address.Port}") : null;
    }

    public bool ZeroId => true;

    public async ValueTask<int> ExchangeAsync(ReadOnlyMemory<byte> query, Memory<byte> response, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _uri) { Content = new ReadOnlyMemoryContent(query) };
        request.Content.Headers.ContentType = DnsMessage;
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/dns-message"));
        if (_host is not null) request.Headers.Host = _host;
        using var answer = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        if (!answer.IsSuccessStatusCode)
            throw new DnsUpstreamException($"HTTP {(int)answer.StatusCode} {answer.ReasonPhrase} from {_uri}");
        await using var body = await answer.Content.ReadAsStreamAsync(ct);
        int read = 0;
        while (true)
        {
            if (read == response.Length) throw new DnsUpstreamException("DoH answer larger than a DNS message");
            int n = await body.ReadAsync(response[read..], ct);
            if (n == 0) break;
            read += n;
        }
        return read;
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>Client TLS settings shared by DoT and DoH.</summary>
internal static class TlsOptions
{
    public static SslClientAuthenticationOptions Create(DnsTlsOptions? tls, string? targetHost, string? alpn = null)
    {
        var options = new SslClientAuthenticationOptions { TargetHost = targetHost };
        if (alpn is not null) options.ApplicationProtocols = [new SslApplicationProtocol(alpn)];
        if (tls is { Insecure: true })
        {
            options.RemoteCertificateValidationCallback = static (_, _, _, _) => true;
        }
        else if (tls?.CertificatePath is { } path)
        {
            var roots = new X509Certificate2Collection();
            roots.ImportFromPem(System.Text.Encoding.UTF8.GetString(tls.Files.Read(path, EngineLimits.Default.PemFileBytes)));
            var policy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
            };
            policy.CustomTrustStore.AddRange(roots);
            options.CertificateChainPolicy = policy;
        }
        return options;
    }
}
