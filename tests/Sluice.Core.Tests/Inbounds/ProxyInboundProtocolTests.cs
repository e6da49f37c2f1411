using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Core.Configuration;
using Sluice.Core.Inbounds.Mixed;
using Sluice.Core.Monitoring;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.Direct;
using Sluice.Core.Routing;
using Sluice.Core.Stack;

namespace Sluice.Core.Tests.Inbounds;

/// <summary>
/// sing-box's "socks" and "http" inbounds: the proxy port speaks its one protocol, carries an app's bytes to the
/// destination through the routed lane (a real direct outbound to a loopback echo server), and closes on the other
/// protocol instead of answering it.
/// </summary>
public sealed class ProxyInboundProtocolTests
{
    [Fact]
    public async Task SocksInbound_CarriesASocks5Connect_AndClosesOnAnHttpRequest()
    {
        using var echo = EchoServer.Start();
        using var inbound = Start("""{"type": "socks", "tag": "socks-in", "listen": "127.0.0.1", "listen_port": 1}""");

        Assert.Equal("ping", await SocksEchoAsync(inbound.BoundEndPoint, echo.Port, "ping"));
        Assert.Equal("", await ExchangeAsync(inbound.BoundEndPoint, $"CONNECT 127.0.0.1:{echo.Port} HTTP/1.1\r\nHost: x\r\n\r\n"));
    }

    [Fact]
    public async Task HttpInbound_CarriesAConnect_AndDoesNotAnswerSocks5()
    {
        using var echo = EchoServer.Start();
        using var inbound = Start("""{"type": "http", "tag": "http-in", "listen": "127.0.0.1", "listen_port": 1}""");

        string reply = await ExchangeAsync(inbound.BoundEndPoint, $"CONNECT 127.0.0.1:{echo.Port} HTTP/1.1\r\nHost: x\r\n\r\n", then: "pong");
        Assert.StartsWith("HTTP/1.1 200", reply);
        Assert.EndsWith("pong", reply);
        string socks = await ExchangeAsync(inbound.BoundEndPoint, "\u0005\u0001\u0000");
        Assert.False(socks.Length == 2 && socks[0] == 5, "a SOCKS5 method reply came from an http inbound");
    }

    /// <summary>Control: "mixed" speaks both on one port.</summary>
    [Fact]
    public async Task MixedInbound_SpeaksBoth()
    {
        using var echo = EchoServer.Start();
        using var inbound = Start("""{"type": "mixed", "listen": "127.0.0.1", "listen_port": 1}""");

        Assert.Equal("ping", await SocksEchoAsync(inbound.BoundEndPoint, echo.Port, "ping"));
        Assert.StartsWith("HTTP/1.1 200", await ExchangeAsync(inbound.BoundEndPoint, $"CONNECT 127.0.0.1:{echo.Port} HTTP/1.1\r\nHost: x\r\n\r\n"));
    }

    private static MixedInbound Start(string inboundJson)
    {
        var config = ConfigLoader.Load($$"""{"inbounds": [{{inboundJson}}], "outbounds": [{"type": "direct", "tag": "direct"}]}""");
        var options = config.MixedInbounds.Single() with { ListenPort = 0 };
        var direct = new DirectOutbound("direct", DialOptions.Default, new PlainSockets());
        var lanes = new LaneSelector(Router.Compile(config.Route, ["direct"], "direct"), new Dictionary<string, IOutbound> { ["direct"] = direct },
            "direct", false, NullLogger.Instance);
        var admission = new FlowAdmission(lanes, new ConnectionRegistry(TimeProvider.System), NullLogger.Instance);
        var inbound = new MixedInbound(options, admission, null, new PlainSockets().Hosts, new RelayBuffers(EngineLimits.Default), NullLogger.Instance);
        inbound.Start();
        return inbound;
    }

    private static async Task<string> SocksEchoAsync(IPEndPoint proxy, int port, string payload)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await socket.ConnectAsync(proxy, timeout.Token);
        await socket.SendAsync(new byte[] { 5, 1, 0 });
        var buffer = new byte[64];
        await socket.ReceiveAsync(buffer.AsMemory(0, 2), timeout.Token);
        await socket.SendAsync(new byte[] { 5, 1, 0, 1, 127, 0, 0, 1, (byte)(port >> 8), (byte)port });
        int have = 0;
        while (have < 10) have += await socket.ReceiveAsync(buffer.AsMemory(have, 10 - have), timeout.Token) is > 0 and var n ? n : throw new IOException("closed");
        Assert.Equal(0, buffer[1]);
        await socket.SendAsync(Encoding.ASCII.GetBytes(payload));
        int got = await socket.ReceiveAsync(buffer, timeout.Token);
        return Encoding.ASCII.GetString(buffer, 0, got);
    }

    /// <summary>Sends <paramref name="request"/> (then <paramref name="then"/> after the first answer) and returns all it reads until close or 2 s of quiet.</summary>
    private static async Task<string> ExchangeAsync(IPEndPoint proxy, string request, string? then = null)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(proxy);
        await socket.SendAsync(Encoding.Latin1.GetBytes(request));
        var text = new StringBuilder();
        var buffer = new byte[4096];
        while (true)
        {
            using var quiet = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            int n;
            try
            {
                n = await socket.ReceiveAsync(buffer, quiet.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException)
            {
                break;
            }
            if (n == 0) break;
            text.Append(Encoding.Latin1.GetString(buffer, 0, n));
            if (then is not null)
            {
                await socket.SendAsync(Encoding.ASCII.GetBytes(then));
                then = null;
            }
        }
        return text.ToString();
    }

    private sealed class EchoServer : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public static EchoServer Start()
        {
            var server = new EchoServer();
            server._listener.Start();
            _ = server.AcceptAsync();
            return server;
        }

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                {
                    var client = await _listener.AcceptSocketAsync();
                    _ = Task.Run(async () =>
                    {
                        using var _ = client;
                        var buffer = new byte[4096];
                        try
                        {
                            int n;
                            while ((n = await client.ReceiveAsync(buffer)) > 0) await client.SendAsync(buffer.AsMemory(0, n));
                        }
                        catch (SocketException)
                        {
                        }
                    });
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        }

        public void Dispose() => _listener.Stop();
    }
}
