using System.Net;
using System.Net.Sockets;
using System.Text;
using Sluice.Core.Inbounds.Mixed;

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

    /// <summary>SOCKS4 (Java's default SOCKS client, older apps): the request and the app's first bytes in one write.</summary>
    [Theory]
    [InlineData("socks")]
    [InlineData("mixed")]
    public async Task Socks4Connect_ToAnAddress_IsGranted_AndCarriesTheAppsBytes(string type)
    {
        using var echo = EchoServer.Start();
        using var inbound = Start($$"""{"type": "{{type}}", "listen": "127.0.0.1", "listen_port": 1}""");

        var (code, echoed) = await Socks4Async(inbound.BoundEndPoint, Socks4Request(1, echo.Port, [127, 0, 0, 1], "alice"), "ping");
        Assert.Equal(90, code);
        Assert.Equal("ping", echoed);
    }

    /// <summary>SOCKS4a: the address 0.0.0.1 says a host name follows the user id; the outbound resolves it.</summary>
    [Theory]
    [InlineData("echo.test")]
    [InlineData("127.0.0.1")]
    public async Task Socks4aConnect_ByName_IsResolvedAndCarried(string name)
    {
        using var echo = EchoServer.Start();
        var sockets = new PlainSockets { Names = { ["echo.test"] = [IPAddress.Loopback] } };
        using var inbound = Start("""{"type": "mixed", "listen": "127.0.0.1", "listen_port": 1}""", sockets);

        var (code, echoed) = await Socks4Async(inbound.BoundEndPoint, [.. Socks4Request(1, echo.Port, [0, 0, 0, 1], ""), .. Encoding.ASCII.GetBytes(name), 0], "ping");
        Assert.Equal(90, code);
        Assert.Equal("ping", echoed);
    }

    [Theory]
    [InlineData(2, false)] // BIND
    [InlineData(1, true)] // CONNECT, but SOCKS4 has no password and the inbound has users
    public async Task Socks4_BindOrAnInboundWithUsers_IsRejected_AndNothingIsCarried(byte command, bool users)
    {
        using var echo = EchoServer.Start();
        string auth = users ? """, "users": [{"username": "u", "password": "p"}]""" : "";
        using var inbound = Start($$"""{"type": "mixed", "listen": "127.0.0.1", "listen_port": 1{{auth}}}""");

        var (code, echoed) = await Socks4Async(inbound.BoundEndPoint, Socks4Request(command, echo.Port, [127, 0, 0, 1], "u"), "ping");
        Assert.Equal(91, code);
        Assert.Equal("", echoed);
    }

    /// <summary>A CONNECT to port 0 is refused in the reply (general failure), not granted and then reset.</summary>
    [Fact]
    public async Task Socks5Connect_ToPortZero_IsRefusedInTheReply()
    {
        using var inbound = Start("""{"type": "mixed", "listen": "127.0.0.1", "listen_port": 1}""");

        string reply = await ExchangeAsync(inbound.BoundEndPoint, "\u0005\u0001\u0000" + "\u0005\u0001\u0000\u0001\u007f\u0000\u0000\u0001\u0000\u0000");

        Assert.Equal(2 + 10, reply.Length);
        Assert.Equal(1, reply[3]);
    }

    [Fact]
    public async Task HttpInbound_DoesNotAnswerSocks4()
    {
        using var echo = EchoServer.Start();
        using var inbound = Start("""{"type": "http", "listen": "127.0.0.1", "listen_port": 1}""");

        string reply = await ExchangeAsync(inbound.BoundEndPoint, Encoding.Latin1.GetString(Socks4Request(1, echo.Port, [127, 0, 0, 1], "")));
        Assert.False(reply.Length >= 2 && reply[0] == 0 && reply[1] == 90, "a SOCKS4 grant came from an http inbound");
    }

    private static byte[] Socks4Request(byte command, int port, byte[] address, string user) =>
        [4, command, (byte)(port >> 8), (byte)port, .. address, .. Encoding.ASCII.GetBytes(user), 0];

    /// <summary>Sends the request and the payload in one write; the reply code and what came back before close or 2 s of quiet.</summary>
    private static async Task<(int Code, string Echoed)> Socks4Async(IPEndPoint proxy, byte[] request, string payload)
    {
        string all = await ExchangeAsync(proxy, Encoding.Latin1.GetString([.. request, .. Encoding.ASCII.GetBytes(payload)]));
        Assert.True(all.Length >= 8, $"no 8-byte SOCKS4 reply: {all.Length} bytes");
        Assert.Equal(0, all[0]);
        return (all[1], all[8..]);
    }

    private static MixedInbound Start(string inboundJson, PlainSockets? sockets = null) => LoopbackMixedInbound.Start(inboundJson, sockets);

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
