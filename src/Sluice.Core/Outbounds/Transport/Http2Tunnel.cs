using System.Net;
using System.Net.Http.Headers;

namespace Sluice.Core.Outbounds.Transport;

/// <summary>
/// The HTTP/2 connections of one "http" (with TLS) or "grpc" outbound: .NET's SocketsHttpHandler speaking HTTP/2 with
/// prior knowledge (an http:// URI, version 2.0 exactly) over connections its ConnectCallback dials through the
/// outbound's own layers (the server connection or detour, then the outbound's TLS client with ALPN h2), so utls and
/// the outbound's trust apply. Each proxied connection is one stream (<see cref="Http2TunnelStream"/>); streams share
/// connections up to the server's stream limit, at most <see cref="EngineLimits.Http2ConnectionsPerOutbound"/>
/// connections. A connection without streams closes after idle_timeout (else <see cref="EngineLimits.Http2IdleConnection"/>);
/// health-check PINGs only when idle_timeout is set, so an idle outbound arms no timer of its own beyond the
/// handler's pool scavenger.
/// </summary>
internal sealed class Http2Tunnel : IDisposable
{
    private readonly HttpMessageInvoker _invoker;
    private readonly Uri _uri;

    /// <param name="connect">Opens one connection to the server, TLS included (bounded by connect_timeout).</param>
    /// <param name="authority">The URI's host[:port], which the pool is keyed by and :authority defaults to.</param>
    public Http2Tunnel(Func<CancellationToken, ValueTask<Stream>> connect, string authority, TimeSpan idleTimeout, TimeSpan pingTimeout,
        bool pingWithoutStreams, EngineLimits limits)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) => await connect(cancellationToken),
            UseProxy = false,
            AllowAutoRedirect = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionIdleTimeout = idleTimeout > TimeSpan.Zero ? idleTimeout : limits.Http2IdleConnection,
            EnableMultipleHttp2Connections = true,
            MaxConnectionsPerServer = limits.Http2ConnectionsPerOutbound,
            KeepAlivePingDelay = idleTimeout > TimeSpan.Zero ? idleTimeout : Timeout.InfiniteTimeSpan,
            KeepAlivePingTimeout = pingTimeout,
            KeepAlivePingPolicy = pingWithoutStreams ? HttpKeepAlivePingPolicy.Always : HttpKeepAlivePingPolicy.WithActiveRequests,
        };
        _invoker = new HttpMessageInvoker(handler, disposeHandler: true);
        _uri = new Uri($"http://{authority}/");
    }

    /// <summary>A request for <paramref name="pathAndQuery"/> over HTTP/2 exactly, carrying <paramref name="content"/>.</summary>
    public HttpRequestMessage Request(HttpMethod method, string pathAndQuery, DuplexUploadContent content, string? host)
    {
        var request = new HttpRequestMessage(method, new Uri(_uri, pathAndQuery))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = content,
        };
        if (host is not null) request.Headers.Host = host;
        return request;
    }

    /// <summary>Starts <paramref name="request"/>; returns once its stream is open on a connection (the request body can be written).</summary>
    public async ValueTask<Http2TunnelStream> OpenAsync(HttpRequestMessage request, DuplexUploadContent content, Http2TunnelChecks checks,
        CancellationToken cancellationToken)
    {
        var stream = new Http2TunnelStream(_invoker, request, content, checks);
        try
        {
            await stream.WaitOpenAsync(cancellationToken);
            return stream;
        }
        catch
        {
            stream.Abort();
            throw;
        }
    }

    public static void AddHeaders(HttpRequestMessage request, IReadOnlyList<KeyValuePair<string, string>> headers)
    {
        foreach (var (name, value) in headers)
        {
            if (name.Equals("Host", StringComparison.OrdinalIgnoreCase)) request.Headers.Host = value;
            else if (!request.Headers.TryAddWithoutValidation(name, value)) request.Content!.Headers.TryAddWithoutValidation(name, value);
        }
    }

    public static MediaTypeHeaderValue GrpcContentType { get; } = new("application/grpc");

    public void Dispose() => _invoker.Dispose();
}

/// <summary>What a tunnel stream checks of the server's answer (null: fine; else what is wrong) and whom a refusal is told to.</summary>
/// <param name="Headers">The answer's status and headers (HTTP status, a trailers-only gRPC status).</param>
/// <param name="End">The answer's end (gRPC's trailers); null checks nothing.</param>
/// <param name="Who">The outbound, the prefix of every message.</param>
/// <param name="Refused">Logs one warning for this connection.</param>
internal sealed record Http2TunnelChecks(Func<HttpResponseMessage, string?> Headers, Func<HttpResponseMessage, string?>? End, string Who, Action<string> Refused);
