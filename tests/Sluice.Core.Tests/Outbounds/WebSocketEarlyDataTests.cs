using System.Net;
using System.Net.Sockets;
using System.Text;
using Sluice.Core.Outbounds.Transport;
using Sluice.Tests;

namespace Sluice.Core.Tests.Outbounds;

/// <summary>
/// Early data in the Sec-WebSocket-Protocol header against three in-process servers: one that takes it and
/// echoes it (Xray), one that takes it silently (sing-box), one that drops it (v2ray before 4.37). What the
/// app wrote must reach each server exactly once: never twice at a silent taker, and after the first
/// refusal, by a frame at the dropper.
/// </summary>
public sealed class WebSocketEarlyDataTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private static readonly byte[] Request = Encoding.ASCII.GetBytes("GET /early HTTP/1.1\r\nHost: target\r\n\r\n");

    [Fact]
    public async Task EchoingServer_GetsTheBytesOnce_InTheHeader()
    {
        var log = new LogLines();
        var earlyData = new WebSocketEarlyData("vless \"p\"", log.CreateLogger("vless"));

        var seen = await ExchangeAsync(EarlyDataServerKind.TakesAndEchoes, earlyData, expectAnswer: true);

        Assert.NotNull(seen.HeaderValue);
        Assert.Equal(Request, seen.Data);
        Assert.Empty(log.Lines);
    }

    [Fact]
    public async Task SilentServerThatTakesEarlyData_GetsTheBytesOnce_NotResent()
    {
        var log = new LogLines();
        var earlyData = new WebSocketEarlyData("vless \"p\"", log.CreateLogger("vless"));

        for (int i = 0; i < 2; i++)
        {
            var seen = await ExchangeAsync(EarlyDataServerKind.TakesSilently, earlyData, expectAnswer: true);
            Assert.NotNull(seen.HeaderValue);
            Assert.Equal(Request, seen.Data); // a resend would make it the request twice
        }
        Assert.False(earlyData.ServerIgnoresIt);
        Assert.Empty(log.Lines);
    }

    [Fact]
    public async Task ServerThatDropsEarlyData_IsLearned_LaterConnectionsCarryTheBytesOnceInAFrame()
    {
        var log = new LogLines();
        var earlyData = new WebSocketEarlyData("vless \"p\"", log.CreateLogger("vless"));

        var first = await ExchangeAsync(EarlyDataServerKind.Drops, earlyData, expectAnswer: false);
        Assert.NotNull(first.HeaderValue);
        Assert.Empty(first.Data);
        Assert.True(earlyData.ServerIgnoresIt);

        for (int i = 0; i < 2; i++)
        {
            var seen = await ExchangeAsync(EarlyDataServerKind.Drops, earlyData, expectAnswer: true);
            Assert.Null(seen.HeaderValue);
            Assert.Equal(Request, seen.Data);
        }
        var line = Assert.Single(log.Lines);
        Assert.Contains("ignores early data", line, StringComparison.Ordinal);
    }

    /// <summary>One connection: the client writes <see cref="Request"/>, then reads the answer ("ok", or the end).</summary>
    private static async Task<EarlyDataSeen> ExchangeAsync(EarlyDataServerKind kind, WebSocketEarlyData earlyData, bool expectAnswer)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var server = EarlyDataWebSocketServer.ServeAsync(listener, kind, "ok"u8.ToArray());
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        var options = new WebSocketTransportOptions("/ws", [], 2048, EarlyDataWebSocketServer.Header);
        await using var stream = new WebSocketStream(client.GetStream(), options, "server.test", "vless \"p\"", Timeout, earlyData);

        await stream.WriteAsync(Request);
        var answer = new byte[16];
        int n;
        try
        {
            n = await stream.ReadAsync(answer).AsTask().WaitAsync(Timeout);
        }
        catch (IOException)
        {
            n = 0;
        }
        Assert.Equal(expectAnswer ? "ok" : "", Encoding.ASCII.GetString(answer, 0, n));
        return await server.WaitAsync(Timeout);
    }
}
