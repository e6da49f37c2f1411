using System.Net;
using Sluice.Core.Outbounds;
using Sluice.Packets;

namespace Sluice.Core.RuleSets;

/// <summary>
/// Downloads a remote rule set through an outbound (download_detour, else route.final): the HTTP
/// connection is the outbound's stream, so it never enters the TUN. A host name goes to a proxy as a
/// name; for an outbound that needs an address it is resolved by the engine's own DNS (marked sockets).
/// TLS trust is the system's. A failure is a <see cref="RuleSetFetchException"/> whose message says why.
/// </summary>
internal sealed class RemoteRuleSetFetcher : IDisposable
{
    /// <summary>The largest body accepted: public geosite/geoip .srs files are at most a few MiB.</summary>
    public const int MaxBodyBytes = 64 * 1024 * 1024;

    private static readonly HashSet<string> TakesNames = new(StringComparer.Ordinal) { "shadowsocks", "socks", "http", "vless", "trojan", "vmess" };

    private readonly HttpClient _http;
    private readonly TimeSpan _timeout;

    public RemoteRuleSetFetcher(Func<IOutbound> detour, IServerNameResolver? names, TimeSpan timeout)
    {
        _timeout = timeout;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = (context, token) => DialAsync(detour(), names, context.DnsEndPoint, token),
            UseProxy = false,
            AllowAutoRedirect = true,
            MaxAutomaticRedirections = 5,
            PooledConnectionLifetime = TimeSpan.FromMinutes(1),
            AutomaticDecompression = DecompressionMethods.All,
        };
        _http = new HttpClient(handler) { Timeout = timeout, MaxResponseContentBufferSize = MaxBodyBytes };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("sluice-rule-set/1");
    }

    public async Task<byte[]> FetchAsync(Uri url, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await _http.GetAsync(url, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
                throw new RuleSetFetchException($"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
            return await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            Exception inner = e;
            while (inner.InnerException is { } next) inner = next;
            throw new RuleSetFetchException(ReferenceEquals(inner, e) ? e.Message : $"{e.Message} ({inner.Message})");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new RuleSetFetchException($"no answer within {_timeout.TotalSeconds:0} s");
        }
    }

    private static async ValueTask<Stream> DialAsync(IOutbound outbound, IServerNameResolver? names, DnsEndPoint endpoint, CancellationToken cancellationToken)
    {
        var port = (ushort)endpoint.Port;
        Destination destination;
        if (NetAddress.TryParse(endpoint.Host.Trim('[', ']'), out var literal))
        {
            destination = new Destination(literal, port);
        }
        else if (TakesNames.Contains(outbound.Type) || (outbound is Outbounds.Groups.OutboundGroup g && TakesNames.Contains(g.Current?.Type ?? "")))
        {
            destination = new Destination(default, port, endpoint.Host);
        }
        else
        {
            // Names are resolved by the engine's DNS server; Core never asks the host's resolver itself.
            if (names is null) throw new RuleSetFetchException($"cannot resolve {endpoint.Host}: no DNS server to ask (use an address in the url)");
            IPAddress address = (await names.ResolveAsync(null, endpoint.Host, cancellationToken).ConfigureAwait(false)).Addresses[0];
            destination = new Destination(NetAddress.FromIPAddress(address), port, endpoint.Host);
        }
        return await outbound.DialTcpAsync(destination, cancellationToken).ConfigureAwait(false);
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>A download that failed; the message is the reason, one line.</summary>
internal sealed class RuleSetFetchException(string message) : Exception(message);
