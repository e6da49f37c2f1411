using System.Net.Sockets;
using System.Text;
using Sluice.Core.Configuration;
using Microsoft.Extensions.Logging;
using Sluice.Core.Outbounds.Socks;
using Sluice.Core.Outbounds.Tls;
using Sluice.Core.Outbounds.Transport;

namespace Sluice.Core.Outbounds.Http;

/// <summary>
/// An HTTP proxy client (RFC 9110 §9.3.6 CONNECT) with optional basic auth (RFC 7617):
/// 1. "CONNECT host:port HTTP/1.1" with Host and Proxy-Authorization;
/// 2. the response head is read up to its blank line; bytes the target sent right behind it in the
///    same read are handed out first (<see cref="PrefixedStream"/>), else the connection itself is the
///    stream (a socket's, or the detour's);
/// 3. any status but 2xx fails the dial with the status line (407 names the credentials).
/// With "tls" the connection to the proxy is TLS first (an HTTPS proxy), through the same TLS client as Trojan's.
/// HTTP proxies carry no UDP.
/// </summary>
internal sealed class HttpOutbound(HttpOutboundOptions options, OutboundContext context, ILogger logger) : IOutbound, IProxyServerOutbound
{
    private const int MaxHead = 16 * 1024;
    private readonly ProxyStreamDialer _dialer = Dialer(options, context, logger);
    private readonly string? _authorization = options.Username is null
        ? null
        : "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{options.Username}:{options.Password}"));

    public string Tag => options.Tag;

    public string Type => "http";

    public ProxyServer Server => _dialer.Server;

    /// <summary>The connection to the proxy: a marked socket or the detour's stream, then TLS when "tls" is set (an HTTPS proxy).</summary>
    private static ProxyStreamDialer Dialer(HttpOutboundOptions options, OutboundContext context, ILogger logger)
    {
        var server = new ProxyServer("http", options.Tag, options.Server, context);
        var tls = options.Tls is { } t ? new TlsClient(t, options.Server.Server, server.Who, logger, httpTransport: true, x25519: context.X25519) : null;
        return new ProxyStreamDialer(server, tls, transport: null, logger);
    }


    public async ValueTask<Stream> DialTcpAsync(Destination destination, CancellationToken cancellationToken)
    {
        var connection = await _dialer.ConnectAsync(cancellationToken);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(Server.Dial.ConnectTimeout);
            string authority = SocksAddress.UsesDomain(destination)
                ? $"{destination.Domain}:{destination.Port}"
                : destination.Address.IsV4 ? $"{destination.Address}:{destination.Port}" : $"[{destination.Address}]:{destination.Port}";
            var request = new StringBuilder()
                .Append("CONNECT ").Append(authority).Append(" HTTP/1.1\r\n")
                .Append("Host: ").Append(authority).Append("\r\n");
            if (_authorization is not null) request.Append("Proxy-Authorization: ").Append(_authorization).Append("\r\n");
            request.Append("\r\n");
            await connection.WriteAsync(Encoding.ASCII.GetBytes(request.ToString()), timeout.Token);
            var (status, rest) = await ReadHeadAsync(connection, timeout.Token);
            var parts = status.Split(' ', 3);
            if (parts.Length < 2 || !parts[0].StartsWith("HTTP/1.", StringComparison.Ordinal) || !int.TryParse(parts[1], out int code))
                throw new OutboundException($"{Server.Who}: not an HTTP proxy answer: \"{Truncate(status)}\"");
            // 407 is the standard answer; some proxies (tinyproxy) answer 401 to CONNECT instead.
            if (code is 407 or 401)
                throw new OutboundException(_authorization is null
                    ? $"{Server.Who}: the proxy requires authentication ({code}): set \"username\" and \"password\""
                    : $"{Server.Who}: the proxy rejected the username/password ({code})");
            if (code is < 200 or > 299)
                throw new OutboundException($"{Server.Who}: CONNECT {authority} refused: {Truncate(status)}");
            return rest.Length == 0 ? connection : new PrefixedStream(connection, rest, rest.Length);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await connection.DisposeAsync();
            throw new OutboundException($"{Server.Who}: no answer to CONNECT within {Server.Dial.ConnectTimeout.TotalSeconds:0.#} s");
        }
        catch (IOException e)
        {
            await connection.DisposeAsync();
            throw new OutboundException($"{Server.Who}: CONNECT failed: {(e.InnerException is SocketException s ? s.SocketErrorCode.ToString() : e.Message)}", e);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>Reads the response head; returns its status line and the bytes read past it.</summary>
    private async Task<(string Status, byte[] Leftover)> ReadHeadAsync(Stream connection, CancellationToken token)
    {
        byte[] buffer = new byte[MaxHead];
        int n = 0;
        while (true)
        {
            int read = await connection.ReadAsync(buffer.AsMemory(n), token);
            if (read == 0) throw new OutboundException($"{Server.Who}: the proxy closed the connection without answering CONNECT");
            // The blank line may straddle two reads: search from 3 bytes before the new ones.
            int from = Math.Max(0, n - 3);
            n += read;
            int end = buffer.AsSpan(from, n - from).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                int headLength = from + end + 4;
                int lineEnd = buffer.AsSpan(0, headLength).IndexOf("\r\n"u8);
                return (Encoding.ASCII.GetString(buffer, 0, lineEnd), buffer.AsSpan(headLength, n - headLength).ToArray());
            }
            if (n == buffer.Length) throw new OutboundException($"{Server.Who}: the proxy's answer head is longer than {MaxHead} bytes");
        }
    }

    private static string Truncate(string s) => s.Length > 120 ? s[..120] + "…" : s;

    /// <summary>HTTP CONNECT is a byte stream: no datagrams.</summary>
    public bool CarriesUdp => false;

    public ValueTask<IUdpChannel> OpenUdpAsync(Destination destination, CancellationToken cancellationToken) =>
        throw new OutboundException($"{Server.Who}: an HTTP proxy cannot carry UDP ({destination}); route UDP to another outbound");

    public void Dispose()
    {
    }
}
