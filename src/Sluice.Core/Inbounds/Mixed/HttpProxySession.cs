using System.Net.Sockets;
using System.Text;
using Sluice.Core.Outbounds;
using Sluice.Core.Stack;
using Sluice.Packets;

namespace Sluice.Core.Inbounds.Mixed;

/// <summary>
/// The server side of one HTTP proxy connection, request by request (browsers, apt and wget keep one proxy
/// connection for requests to many hosts, and pipeline):
/// 1. a request head is read (however the client split it across writes) and checked: an HTTP/1.x request line,
///    Proxy-Authorization when the inbound has users (407 otherwise), a target this proxy can reach;
/// 2. CONNECT host:port is routed and dialed, answered 200, and the connection becomes a tunnel;
/// 3. an absolute-form request (GET http://host/path) goes to an origin connection (<see cref="HttpUpstream"/>)
///    for its host: the open one when the host is the same, else a newly routed and dialed one, once the
///    previous host's responses are delivered (responses keep the requests' order). It is forwarded in origin
///    form with Host set from the target and the Proxy-* fields removed, its body copied by its framing
///    (Content-Length or chunked; Expect: 100-continue works as the origin's interim answer is passed back);
/// 4. a request that upgrades (WebSocket) is forwarded and the connection becomes a tunnel to its origin;
/// 5. the connection ends when the client ends it, asks to (Connection: close, HTTP/1.0 without keep-alive), or
///    a response ends it; a bad request is answered with a status and a line saying what was wrong.
/// </summary>
internal sealed class HttpProxySession(MixedInbound inbound, Socket client)
{
    private readonly CancellationTokenSource _session = CancellationTokenSource.CreateLinkedTokenSource(inbound.Stopping);

    /// <param name="received">What the inbound already read from the client.</param>
    public async Task RunAsync(ReadOnlyMemory<byte> received)
    {
        using var session = _session;
        await using var clientStream = new NetworkStream(client, ownsSocket: false);
        using var reader = new HttpMessageReader(clientStream);
        reader.Seed(received.Span);
        HttpUpstream? upstream = null;
        try
        {
            while (true)
            {
                var token = _session.Token;
                HttpHead request;
                HttpTarget target = default;
                HttpBodyFraming body = HttpBodyFraming.Length(0);
                Destination? tunnel = null;
                try
                {
                    int length = await reader.ReadHeadAsync(token);
                    if (length == 0) break;
                    request = HttpHead.Parse(reader.Buffered.Span[..length]);
                    reader.Consume(length);
                    if (request.Start[0].StartsWith("HTTP/", StringComparison.Ordinal))
                        throw new HttpMessageException($"a response where a request was expected: \"{request.Start[0]} {request.Start[1]}\"");
                    if (request.Start[0] == "CONNECT") tunnel = HttpTarget.Authority(request.Start[1], defaultPort: 443);
                    else
                    {
                        target = HttpTarget.Absolute(request.Start[1]);
                        body = request.RequestBody();
                    }
                }
                catch (HttpMessageException e)
                {
                    if (await FinishAsync(upstream)) await RejectAsync(400, e.Message);
                    return;
                }
                if (inbound.Users.Count > 0 && !Authorized(request))
                {
                    if (await FinishAsync(upstream))
                        await SendAsync("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"sluice\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    return;
                }
                if (tunnel is { } authority)
                {
                    if (await FinishAsync(upstream)) await TunnelAsync(authority, null, reader);
                    return;
                }
                string method = request.Start[0];
                byte[] head = request.ToOrigin(target.Path, target.Host);
                if (request.HasToken("Connection", "upgrade") && request.Get("Upgrade") is not null)
                {
                    if (await FinishAsync(upstream)) await TunnelAsync(target.Destination, head, reader);
                    return;
                }
                while (true)
                {
                    if (upstream is not null && (!upstream.Usable || !SameOrigin(upstream.Destination, target.Destination)))
                    {
                        bool open = await FinishAsync(upstream);
                        await upstream.DisposeAsync();
                        upstream = null;
                        if (!open) return;
                    }
                    upstream ??= await OpenAsync(target.Destination, clientStream);
                    if (upstream is null) return;
                    if (await upstream.SendAsync(method, head, reader, body, token)) break;
                }
                if (!request.KeepsAlive(proxyConnection: true)) break;
            }
            await FinishAsync(upstream);
        }
        finally
        {
            if (upstream is not null) await upstream.DisposeAsync();
        }
    }

    /// <summary>Waits for the responses of <paramref name="upstream"/>'s requests; false when one ended the session.</summary>
    private static async Task<bool> FinishAsync(HttpUpstream? upstream) => upstream is null || await upstream.FinishAsync();

    /// <summary>Host names are compared without case, as DNS does.</summary>
    private static bool SameOrigin(Destination a, Destination b) =>
        a.Port == b.Port && a.Address == b.Address && string.Equals(a.Domain, b.Domain, StringComparison.OrdinalIgnoreCase);

    /// <summary>Routes and dials an origin for forwarded requests; null when refused (403) or the dial failed (502), both answered.</summary>
    private async Task<HttpUpstream?> OpenAsync(Destination destination, Stream clientStream)
    {
        if (await RouteAndDialAsync(destination) is not var (route, remote)) return null;
        return new HttpUpstream(inbound, route, destination, remote, clientStream, EndSession, _session.Token);
    }

    /// <summary>A CONNECT tunnel (answered 200), or an upgrading request's (its head sent first): the connection is relayed as is from here.</summary>
    private async Task TunnelAsync(Destination destination, byte[]? head, HttpMessageReader reader)
    {
        if (await RouteAndDialAsync(destination) is not var (route, remote)) return;
        await using (remote)
        {
            if (head is null) await SendAsync("HTTP/1.1 200 Connection established\r\n\r\n");
            byte[] firstUp = [.. head ?? [], .. reader.Buffered.Span];
            reader.Dispose(); // its 64 KiB head buffer is not held for the tunnel's life (an HTTPS tunnel may last hours)
            await inbound.RelayAsync(client, route, remote, firstUp);
        }
    }

    private async Task<(MixedRoute, Stream)?> RouteAndDialAsync(Destination destination)
    {
        var route = await inbound.RouteAsync(client, IpProtocol.Tcp, destination);
        if (route is null)
        {
            await RejectAsync(403, $"the rules refuse {destination}", log: false);
            return null;
        }
        var remote = await inbound.DialAsync(route.Outbound, route.Flow.Dialled(destination));
        if (remote is null)
        {
            await RejectAsync(502, $"{destination} via {route.Outbound.Tag} cannot be reached (the log says why)", log: false);
            return null;
        }
        return (route, remote);
    }

    /// <summary>Ends the client's connection: after what was written (a FIN), or with a reset.</summary>
    private void EndSession(bool graceful)
    {
        try
        {
            if (graceful) client.Shutdown(SocketShutdown.Send);
            else StreamPump.Reset(client);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
        _session.Cancel();
    }

    private bool Authorized(HttpHead request)
    {
        var value = request.Get("Proxy-Authorization");
        if (value is null || !value.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase)) return false;
        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(value[6..].Trim()));
        }
        catch (FormatException)
        {
            return false;
        }
        int colon = decoded.IndexOf(':');
        if (colon < 0) return false;
        return inbound.Accepts(decoded[..colon], decoded[(colon + 1)..]);
    }

    /// <summary>Answers with a status and one line of text saying why, closing the connection; a 400 is also logged (as a bad request).</summary>
    private async Task RejectAsync(int status, string reason, bool log = true)
    {
        string phrase = status switch { 400 => "Bad Request", 403 => "Forbidden", _ => "Bad Gateway" };
        byte[] text = Encoding.UTF8.GetBytes(reason + "\n");
        await SendAsync($"HTTP/1.1 {status} {phrase}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {text.Length}\r\nConnection: close\r\n\r\n");
        await client.SendAsync(text, SocketFlags.None, inbound.Stopping);
        if (log) throw new ProxyProtocolException(reason);
    }

    private async Task SendAsync(string text) =>
        await client.SendAsync(Encoding.ASCII.GetBytes(text), SocketFlags.None, inbound.Stopping);
}
