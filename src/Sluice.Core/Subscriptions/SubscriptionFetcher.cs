using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Sluice.Core.Configuration;
using Sluice.Core.Outbounds;

namespace Sluice.Core.Subscriptions;

/// <summary>
/// Fetches a subscription body over HTTPS. Every connection is dialed by the engine's socket
/// factory, so it carries Sluice's mark: it leaves by the main table (not back into the TUN) and the
/// gate lets it out. TLS trust: the system store, or only <c>ca_file</c>, or nothing (<c>insecure</c>). The request
/// carries the config's <c>headers</c> (a provider picks the body's format by the User-Agent, or wants a token).
/// A failure is a <see cref="SubscriptionFetchException"/> whose message says why in one line.
/// </summary>
internal sealed class SubscriptionFetcher : IDisposable
{
    /// <summary>A provider list is a few KiB; anything past this is not one.</summary>
    public const int MaxBodyBytes = 4 * 1024 * 1024;

    private readonly SubscriptionOptions _options;
    private readonly HttpClient _http;
    private readonly X509Certificate2Collection? _trust;

    public SubscriptionFetcher(SubscriptionOptions options, ISocketFactory sockets)
    {
        _options = options;
        if (options.CaFile is { } ca) _trust = LoadCa(options.Files, ca);
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = (context, token) => DialAsync(sockets, context.DnsEndPoint, token),
            UseProxy = false,
            AllowAutoRedirect = true,
            MaxAutomaticRedirections = 3,
            PooledConnectionLifetime = TimeSpan.FromMinutes(1),
            AutomaticDecompression = DecompressionMethods.All,
        };
        if (options.Insecure || _trust is not null)
            handler.SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = Validate };
        _http = new HttpClient(handler) { Timeout = options.Timeout, MaxResponseContentBufferSize = MaxBodyBytes };
        // The config's headers (checked there: names are tokens, values hold no line break); its User-Agent replaces ours.
        if (!options.Headers.Any(h => h.Key.Equals("User-Agent", StringComparison.OrdinalIgnoreCase)))
            _http.DefaultRequestHeaders.UserAgent.ParseAdd("sluice-subscription/1");
        foreach (var (name, value) in options.Headers) _http.DefaultRequestHeaders.TryAddWithoutValidation(name, value);
    }

    /// <summary>The account usage the provider stated in its last 2xx answer (null: it stated none).</summary>
    public SubscriptionUsage? Usage { get; private set; }

    public async Task<string> FetchAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var response = await _http.GetAsync(_options.Url, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
                throw new SubscriptionFetchException($"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
            if (response.RequestMessage?.RequestUri is { Scheme: not "https" } final)
                throw new SubscriptionFetchException($"redirected to {final.Scheme}://, refused (only https)");
            string body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            Usage = response.Headers.TryGetValues(SubscriptionUsage.Header, out var values) ? SubscriptionUsage.Parse(values.FirstOrDefault()) : null;
            return body;
        }
        catch (HttpRequestException e)
        {
            throw new SubscriptionFetchException(Describe(e));
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new SubscriptionFetchException($"no answer within {_options.Timeout.TotalSeconds:0} s");
        }
    }

    private static string Describe(HttpRequestException e)
    {
        // The useful part is usually the innermost cause (connection refused, certificate error).
        Exception inner = e;
        while (inner.InnerException is { } next) inner = next;
        return ReferenceEquals(inner, e) ? e.Message : $"{e.Message} ({inner.Message})";
    }

    private static async ValueTask<Stream> DialAsync(ISocketFactory sockets, DnsEndPoint endpoint, CancellationToken cancellationToken)
    {
        IPAddress[] addresses = IPAddress.TryParse(endpoint.Host, out var literal)
            ? [literal]
            : await sockets.Hosts.ResolveAsync(endpoint.Host, cancellationToken).ConfigureAwait(false);
        Exception? last = null;
        foreach (var address in addresses)
        {
            var socket = sockets.CreateTcp(address.AddressFamily);
            try
            {
                socket.NoDelay = true;
                await socket.ConnectAsync(new IPEndPoint(address, endpoint.Port), cancellationToken).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException e)
            {
                socket.Dispose();
                last = e;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        throw last ?? new SocketException((int)SocketError.HostNotFound);
    }

    private bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (_options.Insecure) return true; // documented risk: tests with a self-signed server only
        if (certificate is null || _trust is null) return errors == SslPolicyErrors.None;
        // Name mismatches still fail; only the chain is judged against ca_file instead of the system store.
        if ((errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) != 0) return false;
        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(_trust);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (chain is not null)
            foreach (var element in chain.ChainElements) custom.ChainPolicy.ExtraStore.Add(element.Certificate);
        return custom.Build(certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
    }

    private static X509Certificate2Collection LoadCa(Configuration.IFileSource files, string path)
    {
        var collection = new X509Certificate2Collection();
        try
        {
            collection.ImportFromPem(System.Text.Encoding.UTF8.GetString(files.Read(path, EngineLimits.Default.PemFileBytes)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            throw new InvalidOperationException($"subscription ca_file {path}: cannot read a PEM certificate: {e.Message}");
        }
        if (collection.Count == 0) throw new InvalidOperationException($"subscription ca_file {path}: no certificate in it");
        return collection;
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>A fetch that failed; the message is the reason, one line.</summary>
internal sealed class SubscriptionFetchException(string message) : Exception(message);
