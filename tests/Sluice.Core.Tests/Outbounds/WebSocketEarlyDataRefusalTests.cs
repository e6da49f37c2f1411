using System.Net;
using System.Net.Sockets;
using System.Text;
using Sluice.Core.Configuration;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.Transport;
using Sluice.Core.Outbounds.Vless;
using Sluice.Packets;
using Sluice.Tests;

namespace Sluice.Core.Tests.Outbounds;

/// <summary>
/// What the log says when a VLESS+WebSocket connection ends with nothing from the server: after unechoed early
/// data, that the server most likely dropped the early data (not "wrong uuid", which sent users hunting for a
/// typo in a correct uuid); with echoed early data or none, that the server refused the request (wrong uuid?).
/// One line per connection either way.
/// </summary>
public sealed class WebSocketEarlyDataRefusalTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private static readonly byte[] Request = Encoding.ASCII.GetBytes("GET /early HTTP/1.1\r\nHost: target\r\n\r\n");
    private static readonly byte[] VlessAnswer = [0, 0, (byte)'o', (byte)'k']; // version 0, no addons, then the target's bytes
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly LogLines _log = new();

    public WebSocketEarlyDataRefusalTests() => _listener.Start();

    public void Dispose() => _listener.Dispose();

    [Fact]
    public async Task ServerThatDropsEarlyData_FirstFailureIsLoggedAsDroppedEarlyData_NotAsWrongUuid()
    {
        using var vless = Outbound(maxEarlyData: 2048);

        var (error, seen) = await ExchangeAsync(vless, EarlyDataServerKind.Drops, VlessAnswer);

        Assert.Empty(seen.Data);
        Assert.NotNull(error);
        Assert.Contains("dropped the early data in Sec-WebSocket-Protocol", error, StringComparison.Ordinal);
        string line = Assert.Single(_log.Lines);
        Assert.Contains("without echoing the early data in Sec-WebSocket-Protocol, then closed the connection without sending anything: it ignores early data", line, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong uuid, or", line, StringComparison.Ordinal);

        // The next connection carries the request in a frame and gets its answer; nothing more is logged.
        var (next, again) = await ExchangeAsync(vless, EarlyDataServerKind.Drops, VlessAnswer);
        Assert.Null(next);
        Assert.Null(again.HeaderValue);
        Assert.Equal(Request.Length, again.Data.Length - 26); // the VLESS request header (26 bytes for an IPv4 target), then the app's bytes
        Assert.Single(_log.Lines);
    }

    [Theory]
    [InlineData(EarlyDataServerKind.TakesAndEchoes, 2048)] // Xray with a wrong uuid: took the early data, then closed
    [InlineData(EarlyDataServerKind.Drops, 0)] // no early data: the request went in a frame, and was refused
    public async Task ServerThatTookTheRequestAndClosed_IsLoggedAsRefused_WrongUuid(EarlyDataServerKind kind, int maxEarlyData)
    {
        using var vless = Outbound(maxEarlyData);

        var (error, seen) = await ExchangeAsync(vless, kind, answer: null);

        Assert.NotEmpty(seen.Data);
        Assert.Equal("the proxy server closed the connection without answering", error);
        string line = Assert.Single(_log.Lines);
        Assert.Contains("without answering (wrong uuid, or the target refused)", line, StringComparison.Ordinal);
        Assert.DoesNotContain("early data", line, StringComparison.Ordinal);
    }

    private VlessOutbound Outbound(int maxEarlyData)
    {
        var server = new ProxyServerOptions("127.0.0.1", (ushort)((IPEndPoint)_listener.LocalEndpoint).Port, DialOptions.Default);
        var ws = new WebSocketTransportOptions("/ws", [], maxEarlyData, maxEarlyData > 0 ? EarlyDataWebSocketServer.Header : null);
        var options = new VlessOutboundOptions("p", server, Guid.NewGuid().ToByteArray(), "", ProxyNetwork.Tcp, null, ws, VlessPacketEncoding.Plain);
        return new VlessOutbound(options, new OutboundContext(new PlainSockets()), _log.CreateLogger("vless"));
    }

    /// <summary>One proxied connection: the app's request out, then one read; returns the read's error message (null: "ok" came back).</summary>
    private async Task<(string? Error, EarlyDataSeen Seen)> ExchangeAsync(VlessOutbound vless, EarlyDataServerKind kind, byte[]? answer)
    {
        var server = EarlyDataWebSocketServer.ServeAsync(_listener, kind, answer);
        await using var stream = await vless.DialTcpAsync(new Destination(NetAddress.Parse("10.9.8.7"), 80), CancellationToken.None);
        await stream.WriteAsync(Request);
        string? error = null;
        try
        {
            var buffer = new byte[16];
            int n = await stream.ReadAsync(buffer).AsTask().WaitAsync(Timeout);
            Assert.Equal("ok", Encoding.ASCII.GetString(buffer, 0, n));
        }
        catch (IOException e)
        {
            error = e.Message;
        }
        return (error, await server.WaitAsync(Timeout));
    }
}
