using System.Net.Sockets;
using System.Text;
using Sluice.Core.Configuration;
using Sluice.Core.Outbounds.Socks;

namespace Sluice.Core.Outbounds.Http;

/// <summary>
/// An HTTP proxy client (RFC 9110 §9.3.6 CONNECT) with optional basic auth (RFC 7617):
/// 1. "CONNECT host:port HTTP/1.1" with Host and Proxy-Authorization;
/// 2. the response head is peeked (MSG_PEEK) and only its own bytes are consumed, so bytes the
///    target sends right after it stay in the socket and the socket itself becomes the stream;
/// 3. any status but 2xx fails the dial with the status line (407 names the credentials).
/// HTTP proxies carry no UDP.
/// </summary>
internal sealed class HttpOutbound(HttpOutboundOptions options, ISocketFactory sockets) : IOutbound, IProxyServerOutbound
{
    private const int MaxHead = 16 * 1024;
    private readonly ProxyServer _server = new("http", options.Tag, options.Server, sockets);
    private readonly string? _authorization = options.Username is null
        ? null
        : "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{options.Username}:{options.Password}"));

    public string Tag => options.Tag;

    public string Type => "http";

    public ProxyServer Server => _server;

    public async ValueTask<Stream> DialTcpAsync(Destination destination, CancellationToken cancellationToken)
    {
        var socket = await _server.ConnectTcpAsync(cancellationToken);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_server.Dial.ConnectTimeout);
            string authority = SocksAddress.UsesDomain(destination)
                ? $"{destination.Domain}:{destination.Port}"
                : destination.Address.IsV4 ? $"{destination.Address}:{destination.Port}" : $"[{destination.Address}]:{destination.Port}";
            var request = new StringBuilder()
                .Append("CONNECT ").Append(authority).Append(" HTTP/1.1\r\n")
                .Append("Host: ").Append(authority).Append("\r\n");
            if (_authorization is not null) request.Append("Proxy-Authorization: ").Append(_authorization).Append("\r\n");
            request.Append("\r\n");
            await socket.SendAsync(Encoding.ASCII.GetBytes(request.ToString()), SocketFlags.None, timeout.Token);
            string status = await ReadHeadAsync(socket, timeout.Token);
            var parts = status.Split(' ', 3);
            if (parts.Length < 2 || !parts[0].StartsWith("HTTP/1.", StringComparison.Ordinal) || !int.TryParse(parts[1], out int code))
                throw new OutboundException($"{_server.Who}: not an HTTP proxy answer: \"{Truncate(status)}\"");
            // 407 is the standard answer; some proxies (tinyproxy) answer 401 to CONNECT instead.
            if (code is 407 or 401)
                throw new OutboundException(_authorization is null
                    ? $"{_server.Who}: the proxy requires authentication ({code}): set \"username\" and \"password\""
                    : $"{_server.Who}: the proxy rejected the username/password ({code})");
            if (code is < 200 or > 299)
                throw new OutboundException($"{_server.Who}: CONNECT {authority} refused: {Truncate(status)}");
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new OutboundException($"{_server.Who}: no answer to CONNECT within {_server.Dial.ConnectTimeout.TotalSeconds:0.#} s");
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new OutboundException($"{_server.Who}: CONNECT failed: {e.SocketErrorCode}", e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Consumes exactly the response head; returns its status line.</summary>
    private async Task<string> ReadHeadAsync(Socket socket, CancellationToken token)
    {
        byte[] buffer = new byte[MaxHead];
        while (true)
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.Peek, token);
            if (n == 0) throw new OutboundException($"{_server.Who}: the proxy closed the connection without answering CONNECT");
            int end = buffer.AsSpan(0, n).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                int headLength = end + 4;
                int consumed = 0;
                while (consumed < headLength)
                    consumed += await socket.ReceiveAsync(buffer.AsMemory(consumed, headLength - consumed), SocketFlags.None, token);
                int lineEnd = buffer.AsSpan(0, headLength).IndexOf("\r\n"u8);
                return Encoding.ASCII.GetString(buffer, 0, lineEnd);
            }
            if (n == buffer.Length) throw new OutboundException($"{_server.Who}: the proxy's answer head is longer than {MaxHead} bytes");
            // Not all of the head has arrived: wait a moment for more rather than spin on the peek.
            await Task.Delay(5, token);
        }
    }

    private static string Truncate(string s) => s.Length > 120 ? s[..120] + "…" : s;

    public ValueTask<IUdpChannel> OpenUdpAsync(Destination destination, CancellationToken cancellationToken) =>
        throw new OutboundException($"{_server.Who}: an HTTP proxy cannot carry UDP ({destination}); route UDP to another outbound");

    public void Dispose()
    {
    }
}
