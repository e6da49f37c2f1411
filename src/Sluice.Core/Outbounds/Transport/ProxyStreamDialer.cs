using Microsoft.Extensions.Logging;
using Sluice.Core.Configuration;
using Sluice.Core.Outbounds.Socks;
using Sluice.Core.Outbounds.Tls;

namespace Sluice.Core.Outbounds.Transport;

/// <summary>
/// The layers under a stream proxy protocol (Trojan, VLESS, VMess), dialed in order:
/// 1. the connection to the server (<see cref="ProxyServer"/>: a marked socket, or a detour's stream);
/// 2. TLS when configured (<see cref="TlsClient"/>), within the same connect_timeout (a TLS 1.2 server met by the own
///    TLS client: dialed again once, over SslStream);
/// 3. the V2Ray transport when configured: a WebSocket whose upgrade goes out with the first bytes written (so early
///    data can ride in it); an HTTP upgrade or sing-box's plain HTTP/1.1 head (<see cref="HttpHeadStream"/>); or, for
///    "http" with TLS and "grpc", a stream of the outbound's shared HTTP/2 connections (<see cref="Http2Tunnel"/>),
///    which dial layers 1 and 2 themselves.
/// Each failure is an <see cref="OutboundException"/> naming the outbound and the layer; a server that refuses the
/// transport (an HTTP or gRPC status) is one warning per connection.
/// </summary>
internal sealed partial class ProxyStreamDialer : IDisposable
{
    private readonly ProxyServer _server;
    private readonly TlsClient? _tls;
    private readonly TransportOptions? _transport;
    private readonly ILogger _logger;
    private readonly WebSocketEarlyData _earlyData;
    private readonly Http2Tunnel? _tunnel;

    public ProxyStreamDialer(ProxyServer server, TlsClient? tls, TransportOptions? transport, ILogger logger)
    {
        _server = server;
        _tls = tls;
        _transport = transport;
        _logger = logger;
        _earlyData = new(server.Who, logger);
        var limits = EngineLimits.Default;
        _tunnel = transport switch
        {
            GrpcTransportOptions g => new Http2Tunnel(ConnectLayersAsync, HostHeader(), g.IdleTimeout, g.PingTimeout, g.PermitWithoutStream, limits),
            HttpTransportOptions h when tls is not null => new Http2Tunnel(ConnectLayersAsync, HostHeader(), h.IdleTimeout, h.PingTimeout, false, limits),
            _ => null,
        };
    }

    /// <summary>The dialer of a TLS/transport-carrying proxy outbound (trojan, vless, vmess): its server, its TLS client when "tls" is set.</summary>
    public static ProxyStreamDialer For(string protocol, string tag, ProxyServerOptions options, TlsClientOptions? tlsOptions, TransportOptions? transport,
        OutboundContext context, ILogger logger)
    {
        var server = new ProxyServer(protocol, tag, options, context);
        var tls = tlsOptions is { } t
            ? new TlsClient(t, options.Server, server.Who, logger, httpTransport: transport is WebSocketTransportOptions or HttpUpgradeTransportOptions,
                x25519: context.X25519, h2Transport: transport is GrpcTransportOptions or HttpTransportOptions)
            : null;
        return new ProxyStreamDialer(server, tls, transport, logger);
    }

    public ProxyServer Server => _server;

    public async ValueTask<Stream> ConnectAsync(CancellationToken cancellationToken)
    {
        switch (_transport)
        {
            case GrpcTransportOptions grpc:
                return await OpenGrpcAsync(grpc, cancellationToken);
            case HttpTransportOptions http when _tunnel is not null:
                return await OpenHttp2Async(http, cancellationToken);
        }
        var stream = await ConnectLayersAsync(cancellationToken);
        var timeout = _server.Dial.ConnectTimeout;
        return _transport switch
        {
            WebSocketTransportOptions ws => new WebSocketStream(stream, ws, HostHeader(), _server.Who, timeout, _earlyData),
            HttpUpgradeTransportOptions up => new HttpHeadStream(stream, HttpHead.UpgradeRequest(up, HostHeader()), upgrade: true, _server.Who, timeout, Refused),
            HttpTransportOptions plain => new HttpHeadStream(stream, HttpHead.PlainRequest(plain, PickHost(plain.Hosts) ?? _server.Host), upgrade: false,
                _server.Who, timeout, Refused),
            _ => stream,
        };
    }

    /// <summary>Layers 1 and 2: the connection to the server and TLS over it, within connect_timeout.</summary>
    private async ValueTask<Stream> ConnectLayersAsync(CancellationToken cancellationToken)
    {
        var connection = await _server.ConnectTcpAsync(cancellationToken);
        Stream stream = connection.Stream;
        if (_tls is null) return stream;
        // The redial is for the one retry over SslStream when the own TLS client met a TLS 1.2 server.
        return await WithinConnectTimeoutAsync(token => _tls.ConnectAsync(stream, token, async redial => (await _server.ConnectTcpAsync(redial)).Stream),
            cancellationToken);
    }

    /// <summary>A TLS handshake within connect_timeout; running out of it is an error naming the outbound.</summary>
    private async ValueTask<T> WithinConnectTimeoutAsync<T>(Func<CancellationToken, ValueTask<T>> handshake, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(_server.Dial.ConnectTimeout);
        try
        {
            return await handshake(limit.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new OutboundException($"{_server.Who}: TLS handshake timed out after {_server.Dial.ConnectTimeout.TotalSeconds:0.#} s");
        }
    }

    /// <summary>"http" over TLS: a request of the transport's method to its path, Host one of its hosts (V2Ray's default name when none).</summary>
    private async ValueTask<Stream> OpenHttp2Async(HttpTransportOptions http, CancellationToken cancellationToken)
    {
        var content = new DuplexUploadContent();
        var request = _tunnel!.Request(new HttpMethod(http.Method), http.Path, content, PickHost(http.Hosts) ?? "www.example.com");
        Http2Tunnel.AddHeaders(request, http.Headers);
        var checks = new Http2TunnelChecks(HttpAnswer.Check, End: null, _server.Who, Refused);
        return await OpenAsync(request, content, checks, cancellationToken);
    }

    /// <summary>"grpc": POST /{service_name}/Tun, application/grpc, TE: trailers; the call's status is checked in the headers and at its end.</summary>
    private async ValueTask<Stream> OpenGrpcAsync(GrpcTransportOptions grpc, CancellationToken cancellationToken)
    {
        var content = new DuplexUploadContent();
        content.Headers.ContentType = Http2Tunnel.GrpcContentType;
        var request = _tunnel!.Request(HttpMethod.Post, $"/{Uri.EscapeDataString(grpc.ServiceName)}/Tun", content, host: null);
        request.Headers.TE.ParseAdd("trailers");
        var checks = new Http2TunnelChecks(GrpcAnswer.CheckHeaders, GrpcAnswer.CheckEnd, _server.Who, Refused);
        var call = await OpenAsync(request, content, checks, cancellationToken);
        return new GunStream(call, _server.Who, EngineLimits.Default.GunMessageBytes);
    }

    private async ValueTask<Http2TunnelStream> OpenAsync(HttpRequestMessage request, DuplexUploadContent content, Http2TunnelChecks checks,
        CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(_server.Dial.ConnectTimeout + _server.Dial.ConnectTimeout); // TCP, then TLS, each within connect_timeout
        try
        {
            return await _tunnel!.OpenAsync(request, content, checks, limit.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new OutboundException($"{_server.Who}: no HTTP/2 stream opened within {(2 * _server.Dial.ConnectTimeout).TotalSeconds:0.#} s");
        }
    }

    private void Refused(string problem) => LogRefused(_logger, _server.Who, problem);

    /// <summary>
    /// For Vision: the connection to the server and Sluice's own TLS 1.3 client over it (Reality when configured),
    /// within connect_timeout; no transport (Vision copies inner TLS records straight onto the connection).
    /// </summary>
    public async ValueTask<Tls13ClientStream> ConnectOwnTlsAsync(CancellationToken cancellationToken)
    {
        var connection = await _server.ConnectTcpAsync(cancellationToken);
        return await WithinConnectTimeoutAsync(token => _tls!.ConnectForVisionAsync(connection.Stream, token), cancellationToken);
    }

    /// <summary>One of the transport's hosts, at random per connection as V2Ray picks; null when it lists none.</summary>
    private static string? PickHost(IReadOnlyList<string> hosts) => hosts.Count switch
    {
        0 => null,
        1 => hosts[0],
        _ => hosts[Random.Shared.Next(hosts.Count)],
    };

    /// <summary>The Host of an HTTP-based transport: the TLS server name, else the server as configured.</summary>
    private string HostHeader()
    {
        string host = _tls?.ServerName ?? _server.Host;
        bool defaultPort = _server.Port == (_tls is null ? 80 : 443);
        string name = host.Contains(':') && !host.StartsWith('[') ? $"[{host}]" : host;
        return defaultPort ? name : $"{name}:{_server.Port}";
    }

    public void Dispose() => _tunnel?.Dispose();

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Who}: {Problem}")]
    private static partial void LogRefused(ILogger logger, string who, string problem);
}
