using System.Net;
using System.Net.Sockets;
using System.Text;
using Sluice.Core.Outbounds.Transport;

namespace Sluice.Core.Tests.Outbounds.Transport;

/// <summary>
/// <see cref="HttpHeadStream"/> over a loopback connection to a server playing sing-box's side: the plain "http" form
/// (the head and the first bytes together, a 200 answer, then the stream as it is) and the upgrade's answers.
/// </summary>
public sealed class HttpHeadStreamTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Reads the request head (and <paramref name="withHead"/> bytes behind it), answers <paramref name="answer"/> with
    /// those bytes in the same write (the client must split them), then echoes <paramref name="after"/> more bytes and
    /// ends its side; returns the head.
    /// </summary>
    private static async Task<string> ServeAsync(TcpListener listener, string answer, int withHead, int after)
    {
        using var client = await listener.AcceptTcpClientAsync();
        var stream = client.GetStream();
        var received = new List<byte>();
        var buffer = new byte[4096];
        int headEnd;
        while ((headEnd = HttpHead.HeadLength(received.ToArray())) < 0 || received.Count < headEnd + withHead)
        {
            int n = await stream.ReadAsync(buffer);
            if (n == 0) break;
            received.AddRange(buffer.AsSpan(0, n));
        }
        await stream.WriteAsync(Encoding.ASCII.GetBytes(answer).Concat(received.Skip(headEnd)).ToArray());
        for (int echoed = 0; echoed < after;)
        {
            int n = await stream.ReadAsync(buffer);
            if (n == 0) break;
            await stream.WriteAsync(buffer.AsMemory(0, n));
            echoed += n;
        }
        client.Client.Shutdown(SocketShutdown.Send);
        return Encoding.ASCII.GetString(received.ToArray(), 0, Math.Max(headEnd, 0));
    }

    private static async Task<(string Head, byte[] Read, List<string> Refusals, Exception? Error)> RunAsync(byte[] request, bool upgrade, string answer, byte[] data)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        // The plain form sends the first bytes with the head; an upgrade's wait for the 101.
        var server = ServeAsync(listener, answer, upgrade ? 0 : data.Length, upgrade && answer.Contains(" 101 ") ? data.Length : 0);
        using var socket = new TcpClient();
        await socket.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        var refusals = new List<string>();
        await using var stream = new HttpHeadStream(socket.GetStream(), request, upgrade, "vless \"p\"", Timeout, refusals.Add);
        var read = new List<byte>();
        Exception? error = null;
        try
        {
            await stream.WriteAsync(data);
            var buffer = new byte[3]; // small reads: the head's leftover comes back in pieces
            int n;
            while ((n = await stream.ReadAsync(buffer)) > 0) read.AddRange(buffer.AsSpan(0, n));
        }
        catch (IOException e)
        {
            error = e;
        }
        return (await server, [.. read], refusals, error);
    }

    [Fact]
    public async Task PlainHttp_SendsHeadAndBytesAtOnce_ThenCarriesTheStream()
    {
        var options = new HttpTransportOptions(["h.example"], "/p", "PUT", [], TimeSpan.Zero, TimeSpan.FromSeconds(15));
        byte[] data = "proxied bytes"u8.ToArray();

        var (head, read, refusals, error) = await RunAsync(HttpHead.PlainRequest(options, "h.example"), upgrade: false, "HTTP/1.1 200 OK\r\n\r\n", data);

        Assert.Null(error);
        Assert.StartsWith("PUT /p HTTP/1.1\r\nHost: h.example\r\n", head, StringComparison.Ordinal);
        Assert.Equal(data, read);
        Assert.Empty(refusals);
    }

    [Fact]
    public async Task Upgrade_Refused_IsOneRefusalNamingTheAnswer_AndAnIOException()
    {
        var options = new HttpUpgradeTransportOptions(null, "/up", []);

        var (_, read, refusals, error) = await RunAsync(HttpHead.UpgradeRequest(options, "s.example"), upgrade: true,
            "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", []);

        Assert.IsType<IOException>(error);
        Assert.Contains("vless \"p\": the server answered the HTTP upgrade with HTTP 403 Forbidden, not 101", error.Message, StringComparison.Ordinal);
        Assert.Contains("HTTP 403", Assert.Single(refusals), StringComparison.Ordinal);
        Assert.Empty(read);
    }

    [Fact]
    public async Task Upgrade_Accepted_BytesAfterThe101AreTheStreamsFirst()
    {
        var options = new HttpUpgradeTransportOptions("cdn.example", "/up", []);
        byte[] data = "after the upgrade"u8.ToArray();

        var (head, read, refusals, error) = await RunAsync(HttpHead.UpgradeRequest(options, "s.example"), upgrade: true,
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", data);

        Assert.Null(error);
        Assert.Contains("Host: cdn.example\r\n", head, StringComparison.Ordinal);
        Assert.Equal(data, read);
        Assert.Empty(refusals);
    }
}
