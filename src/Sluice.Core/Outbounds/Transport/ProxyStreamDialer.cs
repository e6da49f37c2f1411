using Microsoft.Extensions.Logging;
using Sluice.Core.Configuration;
using Sluice.Core.Outbounds.Socks;
using Sluice.Core.Outbounds.Tls;

namespace Sluice.Core.Outbounds.Transport;

/// <summary>
/// The layers under a stream proxy protocol (Trojan, VLESS), dialed in order:
/// 1. the connection to the server (<see cref="ProxyServer"/>: a marked socket, or a detour's stream);
/// 2. TLS when configured (<see cref="TlsClient"/>), within the same connect_timeout (a TLS 1.2 server met by the own
///    TLS client: dialed again once, over SslStream);
/// 3. the V2Ray transport when configured: a WebSocket whose upgrade goes out with the first bytes
///    written (so early data can ride in it).
/// Each failure is an <see cref="OutboundException"/> naming the outbound and the layer.
/// </summary>
internal sealed class ProxyStreamDialer(ProxyServer server, TlsClient? tls, TransportOptions? transport, ILogger logger)
{
    private readonly WebSocketEarlyData _earlyData = new(server.Who, logger);

    /// <summary>The dialer of a TLS/transport-carrying proxy outbound (trojan, vless, vmess): its server, its TLS client when "tls" is set.</summary>
    public static ProxyStreamDialer For(string protocol, string tag, ProxyServerOptions options, TlsClientOptions? tlsOptions, TransportOptions? transport,
        OutboundContext context, ILogger logger)
    {
        var server = new ProxyServer(protocol, tag, options, context);
        var tls = tlsOptions is { } t
            ? new TlsClient(t, options.Server, server.Who, logger, httpTransport: transport is WebSocketTransportOptions, x25519: context.X25519)
            : null;
        return new ProxyStreamDialer(server, tls, transport, logger);
    }

    public ProxyServer Server => server;

    public async ValueTask<Stream> ConnectAsync(CancellationToken cancellationToken)
    {
        var connection = await server.ConnectTcpAsync(cancellationToken);
        Stream stream = connection.Stream;
        if (tls is not null)
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(server.Dial.ConnectTimeout);
            try
            {
                // The redial is for the one retry over SslStream when the own TLS client met a TLS 1.2 server.
                stream = await tls.ConnectAsync(stream, limit.Token, async token => (await server.ConnectTcpAsync(token)).Stream);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new OutboundException($"{server.Who}: TLS handshake timed out after {server.Dial.ConnectTimeout.TotalSeconds:0.#} s");
            }
        }
        return transport switch
        {
            WebSocketTransportOptions ws => new WebSocketStream(stream, ws, HostHeader(), server.Who, server.Dial.ConnectTimeout, _earlyData),
            _ => stream,
        };
    }

    /// <summary>
    /// For Vision: the connection to the server and Sluice's own TLS 1.3 client over it (Reality when configured),
    /// within connect_timeout; no transport (Vision copies inner TLS records straight onto the connection).
    /// </summary>
    public async ValueTask<Tls13ClientStream> ConnectOwnTlsAsync(CancellationToken cancellationToken)
    {
        var connection = await server.ConnectTcpAsync(cancellationToken);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(server.Dial.ConnectTimeout);
        try
        {
            return await tls!.ConnectForVisionAsync(connection.Stream, limit.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new OutboundException($"{server.Who}: TLS handshake timed out after {server.Dial.ConnectTimeout.TotalSeconds:0.#} s");
        }
    }

    /// <summary>The Host of an HTTP-based transport: the TLS server name, else the server as configured.</summary>
    private string HostHeader()
    {
        string host = tls?.ServerName ?? server.Host;
        bool defaultPort = server.Port == (tls is null ? 80 : 443);
        string name = host.Contains(':') && !host.StartsWith('[') ? $"[{host}]" : host;
        return defaultPort ? name : $"{name}:{server.Port}";
    }
}
