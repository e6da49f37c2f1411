using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
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
    private const string Header = "Sec-WebSocket-Protocol";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private static readonly byte[] Request = Encoding.ASCII.GetBytes("GET /early HTTP/1.1\r\nHost: target\r\n\r\n");

    private enum ServerKind
    {
        TakesAndEchoes,
        TakesSilently,
        Drops,
    }

    /// <summary>What the server saw on one connection.</summary>
    private sealed record Seen(string? HeaderValue, byte[] Data);

    [Fact]
    public async Task EchoingServer_GetsTheBytesOnce_InTheHeader()
    {
        var log = new LogLines();
        var earlyData = new WebSocketEarlyData("vless \"p\"", log.CreateLogger("vless"));

        var seen = await ExchangeAsync(ServerKind.TakesAndEchoes, earlyData, expectAnswer: true);

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
            var seen = await ExchangeAsync(ServerKind.TakesSilently, earlyData, expectAnswer: true);
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

        var first = await ExchangeAsync(ServerKind.Drops, earlyData, expectAnswer: false);
        Assert.NotNull(first.HeaderValue);
        Assert.Empty(first.Data);
        Assert.True(earlyData.ServerIgnoresIt);

        for (int i = 0; i < 2; i++)
        {
            var seen = await ExchangeAsync(ServerKind.Drops, earlyData, expectAnswer: true);
            Assert.Null(seen.HeaderValue);
            Assert.Equal(Request, seen.Data);
        }
        var line = Assert.Single(log.Lines);
        Assert.Contains("ignores early data", line, StringComparison.Ordinal);
    }

    /// <summary>One connection: the client writes <see cref="Request"/>, then reads the answer ("ok", or the end).</summary>
    private static async Task<Seen> ExchangeAsync(ServerKind kind, WebSocketEarlyData earlyData, bool expectAnswer)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var server = ServeAsync(listener, kind);
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        var options = new WebSocketTransportOptions("/ws", [], 2048, Header);
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

    private static async Task<Seen> ServeAsync(TcpListener listener, ServerKind kind)
    {
        using var connection = await listener.AcceptTcpClientAsync();
        var stream = connection.GetStream();
        var head = new List<byte>();
        var one = new byte[1];
        while (head.Count < 4 || !head.TakeLast(4).SequenceEqual("\r\n\r\n"u8.ToArray()))
        {
            if (await stream.ReadAsync(one) == 0) throw new IOException("the client closed during the upgrade");
            head.Add(one[0]);
        }
        var headers = Encoding.ASCII.GetString(head.ToArray()).Split("\r\n").Skip(1).Where(l => l.Contains(':'))
            .ToDictionary(l => l[..l.IndexOf(':')].Trim(), l => l[(l.IndexOf(':') + 1)..].Trim(), StringComparer.OrdinalIgnoreCase);
        string accept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(headers["Sec-WebSocket-Key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
        string? early = headers.GetValueOrDefault(Header);
        string echo = kind == ServerKind.TakesAndEchoes && early is not null ? $"{Header}: {early}\r\n" : "";
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n{echo}\r\n"));

        var data = new List<byte>();
        if (early is not null && kind != ServerKind.Drops)
            data.AddRange(Convert.FromBase64String(early.Replace('-', '+').Replace('_', '/').PadRight((early.Length + 3) / 4 * 4, '=')));
        // Read frames for a while: a request resent after the early data would show up here as a second copy.
        using var quiet = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        try
        {
            while (true) data.AddRange(await ReadFrameAsync(stream, quiet.Token));
        }
        catch (OperationCanceledException)
        {
        }
        if (data.Count > 0) await stream.WriteAsync(new byte[] { 0x82, 0x02, (byte)'o', (byte)'k' });
        return new Seen(early, data.ToArray()); // dispose closes the connection: what a server that got no request does
    }

    /// <summary>One masked client frame's payload.</summary>
    private static async Task<byte[]> ReadFrameAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var start = new byte[2];
        await stream.ReadExactlyAsync(start, cancellationToken);
        Assert.Equal(0x82, start[0]);
        Assert.True((start[1] & 0x80) != 0, "client frames are masked");
        long length = start[1] & 0x7F;
        if (length == 126)
        {
            var wide = new byte[2];
            await stream.ReadExactlyAsync(wide, cancellationToken);
            length = BinaryPrimitives.ReadUInt16BigEndian(wide);
        }
        var mask = new byte[4];
        await stream.ReadExactlyAsync(mask, cancellationToken);
        var payload = new byte[length];
        await stream.ReadExactlyAsync(payload, cancellationToken);
        for (int i = 0; i < payload.Length; i++) payload[i] ^= mask[i % 4];
        return payload;
    }
}
