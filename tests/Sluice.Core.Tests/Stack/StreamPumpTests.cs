using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Sluice.Core.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.Shadowsocks;
using Sluice.Core.Stack;
using Sluice.Packets;

namespace Sluice.Core.Tests.Stack;

/// <summary>
/// The relay's pump over loopback sockets: a busy socket is read again without waiting (one syscall per
/// chunk, the buffer kept only while the socket has more), small reads give the buffer back at once, and
/// bytes and half-closes arrive intact both ways.
/// </summary>
public sealed class StreamPumpTests
{
    private const int Buffer = 128 * 1024;

    private static RelayBuffers Buffers() => new(Buffer, 16 * 1024, 4 << 20);

    /// <summary>An outbound whose writes wait at a shared gate (a saturated server) and whose reads end when told.</summary>
    private sealed class GatedRemote(Task gate) : Stream, IReadinessStream
    {
        private readonly TaskCompletionSource _end = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _pending;
        private long _written;

        public int Pending => Volatile.Read(ref _pending);

        public long Written => Interlocked.Read(ref _written);

        public bool WaitsWithoutBuffer => true;

        public void End() => _end.TrySetResult();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _pending);
            await gate;
            Interlocked.Add(ref _written, buffer.Length);
            Interlocked.Decrement(ref _pending);
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await _end.Task;
            return 0;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private static async Task Until(Func<bool> condition, string what)
    {
        for (int i = 0; i < 1000 && !condition(); i++) await Task.Delay(10);
        Assert.True(condition(), what);
    }

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
        public void TuneAccepted(Socket accepted, TcpKeepAlive? keepAlive) => _plain.TuneAccepted(accepted, keepAlive);
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
            var pump = StreamPump.RunAsync(client, new NetworkStream(remoteNear, ownsSocket: true), Buffers(), sockets: sockets);
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

    /// <summary>
    /// After a transfer both ways the flow idles with no buffer rented, though a zero-byte wait may wake with nothing to
    /// read (the last chunk's readiness event arriving late): the pump then gives its buffer back and waits again.
    /// </summary>
    [Fact]
    public async Task AFlowIdlingAfterATransferBothWays_HoldsNoBuffer()
    {
        var (client, app) = await PairAsync();
        var (remoteNear, server) = await PairAsync();
        var sockets = new CountingReceiveNow();
        var buffers = Buffers();
        byte[] up = RandomNumberGenerator.GetBytes(1 << 20), down = RandomNumberGenerator.GetBytes(1 << 20);
        using (app)
        using (server)
        {
            var pump = StreamPump.RunAsync(client, new NetworkStream(remoteNear, ownsSocket: true), buffers, sockets: sockets);
            var atServer = ReceiveExactlyAsync(server, up.Length);
            var atApp = ReceiveExactlyAsync(app, down.Length);
            await app.SendAsync(up);
            await server.SendAsync(down);
            byte[] gotUp = await atServer.WaitAsync(TimeSpan.FromSeconds(30)), gotDown = await atApp.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(up.AsSpan().SequenceEqual(gotUp), "the upload arrived damaged");
            Assert.True(down.AsSpan().SequenceEqual(gotDown), "the download arrived damaged");

            await Until(() => buffers.BytesInUse == 0, $"the idle flow still holds {buffers.BytesInUse} bytes of relay buffers");
            Assert.False(pump.IsCompleted);
            app.Shutdown(SocketShutdown.Send);
            server.Shutdown(SocketShutdown.Send);
            await pump.WaitAsync(TimeSpan.FromSeconds(10));
        }
        client.Dispose();
    }

    /// <summary>
    /// The same through a Shadowsocks stream over a socket (the far end a second stream, so its replies are a server's:
    /// salt, then chunks): after 1 MiB each way the idle flow holds no buffer in either direction.
    /// </summary>
    [Fact]
    public async Task AShadowsocksFlowIdlingAfterATransferBothWays_HoldsNoBuffer()
    {
        var method = ShadowsocksMethod.Find("aes-128-gcm")!;
        var (client, app) = await PairAsync();
        var (remoteNear, serverSocket) = await PairAsync();
        var destination = new Destination(NetAddress.Parse("203.0.113.5"), 443);
        var stream = new ShadowsocksStream(new NetworkStream(remoteNear, ownsSocket: true), method, method.MasterKey("pw"), NullLogger.Instance, "ss", destination, TimeSpan.Zero);
        stream.StageHeader([1, 203, 0, 113, 5, 0x01, 0xBB]);
        using var far = new ShadowsocksStream(new NetworkStream(serverSocket, ownsSocket: true), method, method.MasterKey("pw"), NullLogger.Instance, "far", destination, TimeSpan.Zero);
        var buffers = Buffers();
        byte[] up = RandomNumberGenerator.GetBytes(1 << 20), down = RandomNumberGenerator.GetBytes(1 << 20);
        using (app)
        {
            var pump = StreamPump.RunAsync(client, stream, buffers, sockets: new CountingReceiveNow());
            var atServer = ReadExactlyAsync(far, 7 + up.Length);
            var atApp = ReceiveExactlyAsync(app, down.Length);
            await app.SendAsync(up);
            await far.WriteAsync(down);
            byte[] gotUp = await atServer.WaitAsync(TimeSpan.FromSeconds(30)), gotDown = await atApp.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(up.AsSpan().SequenceEqual(gotUp.AsSpan(7)), "the upload arrived damaged");
            Assert.True(down.AsSpan().SequenceEqual(gotDown), "the download arrived damaged");

            await Until(() => buffers.BytesInUse == 0, $"the idle flow still holds {buffers.BytesInUse} bytes of relay buffers");
            Assert.False(pump.IsCompleted);
        }
        far.Dispose();
        client.Dispose();
    }

    private static async Task<byte[]> ReadExactlyAsync(Stream stream, int count)
    {
        var data = new byte[count];
        await stream.ReadExactlyAsync(data);
        return data;
    }

    private static async Task<byte[]> ReceiveExactlyAsync(Socket socket, int count)
    {
        var data = new byte[count];
        for (int got = 0; got < count;) got += await socket.ReceiveAsync(data.AsMemory(got));
        return data;
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
            var pump = StreamPump.RunAsync(client, new NetworkStream(remoteNear, ownsSocket: true), Buffers(), sockets: sockets);
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

    [Fact]
    public async Task ABusyFlowBeyondTheBudget_GetsASmallBuffer_AndEveryBufferGoesBack_OnceTheWritesAreDone()
    {
        var buffers = new RelayBuffers(64 * 1024, 16 * 1024, 2 * 64 * 1024); // room for two large buffers
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var flows = new List<(Socket Client, Socket App, GatedRemote Remote, Task Pump)>();
        byte[] upload = RandomNumberGenerator.GetBytes(40_000);
        try
        {
            for (int i = 0; i < 3; i++)
            {
                var (client, app) = await PairAsync();
                var remote = new GatedRemote(gate.Task);
                var pump = StreamPump.RunAsync(client, remote, buffers);
                flows.Add((client, app, remote, pump));
                await app.SendAsync(upload);
                await Until(() => remote.Pending == 1, $"flow {i}'s write did not reach the server");
            }
            // Three writes wait on the server: the first two hold large buffers, the third a small one.
            Assert.Equal(2, buffers.LargeRented);
            Assert.Equal(1, buffers.SmallRented);
            Assert.Equal(2 * 65536 + 16384, buffers.BytesInUse);

            gate.SetResult();
            foreach (var f in flows) await Until(() => f.Remote.Written == upload.Length, "the upload did not get through");
            // The connections are open and idle: they hold no buffer.
            await Until(() => buffers.BytesInUse == 0, $"{buffers.BytesInUse} bytes still rented by idle connections");

            foreach (var f in flows)
            {
                f.App.Shutdown(SocketShutdown.Send);
                f.Remote.End();
                await f.Pump.WaitAsync(TimeSpan.FromSeconds(10));
            }
            Assert.Equal(0, buffers.BytesInUse);
        }
        finally
        {
            gate.TrySetResult();
            foreach (var f in flows)
            {
                f.Remote.End();
                f.App.Dispose();
                f.Client.Dispose();
            }
        }
    }

    /// <summary>A Shadowsocks server's connection: records what is sent and from which array; reads wait until told to end.</summary>
    private sealed class RecordingServer : MemoryStream, IReadinessStream
    {
        private readonly TaskCompletionSource _end = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public List<byte[]?> Sources { get; } = [];

        public bool WaitsWithoutBuffer => true;

        public void End() => _end.TrySetResult();

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            lock (Sources)
            {
                Sources.Add(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(buffer, out var segment) ? segment.Array : null);
                base.Write(buffer.Span);
            }
            return ValueTask.CompletedTask;
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            lock (Sources)
            {
                Sources.Add(null);
                base.Write(buffer);
            }
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await _end.Task;
            return 0;
        }
    }

    [Fact]
    public async Task AnUploadIntoShadowsocksBeyondTheBudget_IsSealedInTheRelaysOneBuffer_AndArrivesIntact()
    {
        var buffers = new RelayBuffers(128 * 1024, 16 * 1024, budget: 0); // every buffer small, as for a busy flow beyond the budget
        var relayBuffer = buffers.Rent();
        buffers.Return(relayBuffer); // the pool's only buffer: the pump's rentals get this one
        var method = ShadowsocksMethod.Find("aes-128-gcm")!;
        var server = new RecordingServer();
        var stream = new ShadowsocksStream(server, method, method.MasterKey("pw"), NullLogger.Instance, "ss", new Destination(NetAddress.Parse("203.0.113.5"), 443),
            TimeSpan.Zero);
        stream.StageHeader([1, 203, 0, 113, 5, 0x01, 0xBB]);
        byte[] upload = RandomNumberGenerator.GetBytes(1 << 20);
        var (client, app) = await PairAsync();
        using (app)
        {
            var pump = StreamPump.RunAsync(client, stream, buffers);
            await SendThenShutdownAsync(app, upload, 64 * 1024);
            await Until(() => { lock (server.Sources) return server.Length > upload.Length; }, "the upload did not reach the server");
            server.End();
            await pump.WaitAsync(TimeSpan.FromSeconds(10));
        }
        client.Dispose();

        byte[] wire = server.ToArray();
        using var reader = new ShadowsocksStream(new ReplayServer(wire), method, method.MasterKey("pw"), NullLogger.Instance, "ss",
            new Destination(NetAddress.Parse("203.0.113.5"), 443), TimeSpan.Zero);
        var back = new MemoryStream();
        var chunk = new byte[65536];
        for (int n; (n = await reader.ReadAsync(chunk)) > 0;) back.Write(chunk, 0, n);
        Assert.Equal([1, 203, 0, 113, 5, 0x01, 0xBB], back.ToArray()[..7]); // the target header, then the upload
        Assert.True(upload.AsSpan().SequenceEqual(back.ToArray().AsSpan(7)), "the upload arrived damaged");
        // After the send that carried the salt and header, every send went out from the relay's own buffer.
        var payloadSends = server.Sources.Skip(1).ToList();
        Assert.True(payloadSends.Count >= upload.Length / 16350, $"{payloadSends.Count} sends");
        Assert.All(payloadSends, source => Assert.Same(relayBuffer, source));
        Assert.Equal(0, buffers.BytesInUse);
        // The one rented above, and at most one for the download's end of stream (both ends may read theirs at once).
        Assert.InRange(buffers.SmallAllocated, 1, 2);
    }

    /// <summary>The recorded wire read back as if the server had sent it; the reader's own salt is dropped.</summary>
    private sealed class ReplayServer(byte[] bytes) : MemoryStream(bytes, writable: false)
    {
        public override void Write(ReadOnlySpan<byte> buffer)
        {
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;
    }
}
