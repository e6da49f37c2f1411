using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Sluice.Core.Configuration;
using Sluice.Core.Outbounds;
using Sluice.Core.Stack;

namespace Sluice.Core.Tests.Stack;

/// <summary>
/// The relay's pump over loopback sockets: a busy socket is read again without waiting (one syscall per
/// chunk, the buffer kept only while the socket has more), small reads give the buffer back at once, and
/// bytes and half-closes arrive intact both ways.
/// </summary>
public sealed class StreamPumpTests
{
    private const int Buffer = 128 * 1024;

    /// <summary>The platform's receive-now through .NET (what is queued, never waiting), counted.</summary>
    private sealed class CountingReceiveNow : ISocketFactory
    {
        private readonly PlainSockets _plain = new();
        public int Tries;
        public int Found;

        public bool TryReceiveNow(Socket socket, Span<byte> buffer, out int received)
        {
            Interlocked.Increment(ref Tries);
            received = 0;
            if (socket.Available == 0) return false; // EAGAIN (an end still pending is left to the wait)
            received = socket.Receive(buffer);
            Interlocked.Increment(ref Found);
            return true;
        }

        public Socket CreateTcp(AddressFamily family, DialOptions? dial = null) => _plain.CreateTcp(family, dial);
        public Socket CreateUdp(AddressFamily family, DialOptions? dial = null) => _plain.CreateUdp(family, dial);
        public Socket CreateIcmp(AddressFamily family) => _plain.CreateIcmp(family);
        public Socket CreateOnDevice(AddressFamily family, SocketType type, string device) => _plain.CreateOnDevice(family, type, device);
        public Socket CreateTunListener(AddressFamily family) => _plain.CreateTunListener(family);
        public IHostResolver Hosts => _plain.Hosts;
    }

    private static async Task<(Socket Near, Socket Far)> PairAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var far = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await far.ConnectAsync(listener.LocalEndPoint!);
        return (await listener.AcceptAsync(), far);
    }

    private static async Task<byte[]> SendThenShutdownAsync(Socket socket, byte[] data, int chunk)
    {
        for (int offset = 0; offset < data.Length; offset += chunk)
            await socket.SendAsync(data.AsMemory(offset, Math.Min(chunk, data.Length - offset)));
        socket.Shutdown(SocketShutdown.Send);
        return data;
    }

    private static async Task<byte[]> ReceiveToEndAsync(Socket socket)
    {
        using var all = new MemoryStream();
        var buffer = new byte[65536];
        for (int n; (n = await socket.ReceiveAsync(buffer)) > 0;) all.Write(buffer, 0, n);
        return all.ToArray();
    }

    [Fact]
    public async Task ABulkTransferBothWays_IsReadAgainWithoutWaiting_WhileDataKeepsComing_AndArrivesIntactWithItsHalfCloses()
    {
        var (client, app) = await PairAsync();     // client: the accepted (TUN-side) socket; app: the app's end
        var (remoteNear, server) = await PairAsync(); // remoteNear: the outbound's socket; server: the destination
        var sockets = new CountingReceiveNow();
        byte[] up = RandomNumberGenerator.GetBytes(8 << 20), down = RandomNumberGenerator.GetBytes(8 << 20);
        using (app)
        using (server)
        {
            var pump = StreamPump.RunAsync(client, new NetworkStream(remoteNear, ownsSocket: true), Buffer, sockets: sockets);
            var sendUp = SendThenShutdownAsync(app, up, 1 << 20);
            var sendDown = SendThenShutdownAsync(server, down, 1 << 20);
            var atServer = ReceiveToEndAsync(server); // ends only once the app's half-close came through
            var atApp = ReceiveToEndAsync(app);
            await Task.WhenAll(sendUp, sendDown, atServer, atApp, pump).WaitAsync(TimeSpan.FromSeconds(60));
            byte[] gotUp = await atServer, gotDown = await atApp;
            Assert.True(up.AsSpan().SequenceEqual(gotUp), "the upload arrived damaged");
            Assert.True(down.AsSpan().SequenceEqual(gotDown), "the download arrived damaged");
        }
        client.Dispose();
        Assert.True(sockets.Found > 0, $"no read went without a wait ({sockets.Tries} tries)");
    }

    [Fact]
    public async Task SmallExchanges_DoNotTryToReadWithoutWaiting_AndAnEndWithBytesStillQueuedIsPassedOn()
    {
        var (client, app) = await PairAsync();
        var (remoteNear, server) = await PairAsync();
        var sockets = new CountingReceiveNow();
        using (app)
        using (server)
        {
            var pump = StreamPump.RunAsync(client, new NetworkStream(remoteNear, ownsSocket: true), Buffer, sockets: sockets);
            var reply = new byte[5];
            for (int i = 0; i < 20; i++)
            {
                await app.SendAsync("hello"u8.ToArray());
                int got = 0;
                while (got < 5) got += await server.ReceiveAsync(reply.AsMemory(got));
                await server.SendAsync(reply);
                got = 0;
                while (got < 5) got += await app.ReceiveAsync(reply.AsMemory(got));
                Assert.Equal("hello"u8.ToArray(), reply);
            }
            Assert.Equal(0, sockets.Tries); // a small read gives its buffer back at once: no EAGAIN per exchange

            await SendThenShutdownAsync(server, new byte[100], 100);
            Assert.Equal(100, (await ReceiveToEndAsync(app)).Length);
            app.Shutdown(SocketShutdown.Send);
            await pump.WaitAsync(TimeSpan.FromSeconds(10));
        }
        client.Dispose();
    }
}
