using System.Net;
using System.Net.Sockets;
using Sluice.Core.Configuration;
using Sluice.Packets;

namespace Sluice.Core.Outbounds.Socks;

/// <summary>
/// The server a proxy outbound talks to (shadowsocks, socks, http share it): resolves the host,
/// opens a socket from the engine's <see cref="ISocketFactory"/> (so it carries the fwmark, leaves by
/// the main table and passes the gate), applies the dial fields and connects within connect_timeout.
/// Errors name the protocol, the outbound tag and the server, so a log line says which lane failed.
/// </summary>
/// <summary>An outbound that talks to one proxy server (groups probe it).</summary>
internal interface IProxyServerOutbound
{
    ProxyServer Server { get; }
}

internal sealed class ProxyServer(string protocol, string tag, ProxyServerOptions options, ISocketFactory sockets)
{
    public string Host => options.Server;

    public ushort Port => options.Port;

    public DialOptions Dial => options.Dial;

    public override string ToString() => options.Server.Contains(':') ? $"[{options.Server}]:{options.Port}" : $"{options.Server}:{options.Port}";

    /// <summary>Prefix for messages: "shadowsocks \"ss-out\" (10.0.0.1:8388)".</summary>
    public string Who => _who ??= $"{protocol} \"{tag}\" ({this})"; // built once, not per connection

    private string? _who;

    public async ValueTask<IPEndPoint> ResolveAsync(CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(options.Server, out var ip)) return new IPEndPoint(ip, options.Port);
        try
        {
            var addresses = await System.Net.Dns.GetHostAddressesAsync(options.Server, cancellationToken);
            var chosen = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
                ?? throw new OutboundException($"{Who}: server name {options.Server} has no address");
            return new IPEndPoint(chosen, options.Port);
        }
        catch (SocketException e)
        {
            throw new OutboundException($"{Who}: cannot resolve server name {options.Server}: {e.SocketErrorCode}", e);
        }
    }

    /// <summary>A connected, marked TCP socket to the server.</summary>
    public async ValueTask<Socket> ConnectTcpAsync(CancellationToken cancellationToken)
    {
        var endpoint = await ResolveAsync(cancellationToken);
        var socket = sockets.CreateTcp(endpoint.AddressFamily);
        try
        {
            ApplyDialOptions(socket);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(options.Dial.ConnectTimeout);
            await socket.ConnectAsync(endpoint, timeout.Token);
            socket.NoDelay = true;
            return socket;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new OutboundException($"{Who}: connect timed out after {options.Dial.ConnectTimeout.TotalSeconds:0.#} s");
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new OutboundException($"{Who}: connect failed: {e.SocketErrorCode}", e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>TCP connect latency to the server (the socket is marked like any other), for groups' health checks.</summary>
    public async ValueTask<TimeSpan> ProbeAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var endpoint = await ResolveAsync(cancellationToken);
        using var socket = sockets.CreateTcp(endpoint.AddressFamily);
        ApplyDialOptions(socket);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            await socket.ConnectAsync(endpoint, limit.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new OutboundException($"{Who}: no TCP answer within {timeout.TotalSeconds:0.#} s");
        }
        catch (SocketException e)
        {
            throw new OutboundException($"{Who}: {e.SocketErrorCode}", e);
        }
        return System.Diagnostics.Stopwatch.GetElapsedTime(started);
    }

    /// <summary>A marked UDP socket connected to <paramref name="endpoint"/> (the server, or a SOCKS relay).</summary>
    public Socket ConnectUdp(IPEndPoint endpoint)
    {
        var socket = sockets.CreateUdp(endpoint.AddressFamily);
        try
        {
            ApplyDialOptions(socket);
            socket.Connect(endpoint);
            return socket;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new OutboundException($"{Who}: UDP to {endpoint} failed: {e.SocketErrorCode}", e);
        }
    }

    private void ApplyDialOptions(Socket socket)
    {
        if (options.Dial.RoutingMark is { } mark)
            socket.SetRawSocketOption(SolSocket, SoMark, BitConverter.GetBytes(mark));
        if (options.Dial.BindInterface is { } name)
            socket.SetRawSocketOption(SolSocket, SoBindToDevice, System.Text.Encoding.ASCII.GetBytes(name + "\0"));
    }

    // Linux option numbers; they only override what the platform's socket factory set when the config asks.
    private const int SolSocket = 1;
    private const int SoMark = 36;
    private const int SoBindToDevice = 25;

    public static NetAddress ToNetAddress(IPEndPoint endpoint) => NetAddress.FromIPAddress(endpoint.Address);
}
