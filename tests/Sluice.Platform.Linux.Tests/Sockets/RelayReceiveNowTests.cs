using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Sluice.Core.Stack;

namespace Sluice.Platform.Linux.Tests.Sockets;

/// <summary>
/// The engine's relay with the platform's receive-now (recv with MSG_DONTWAIT on the fd, around .NET's own readiness
/// bookkeeping): a flow that moved data both ways and then idles holds no relay buffer.
/// </summary>
public class RelayReceiveNowTests
{
    [Fact]
    public async Task AFlowIdlingAfterABulkTransferBothWays_HoldsNoRelayBuffer()
    {
        var (client, app) = await PairAsync();
        var (remoteNear, server) = await PairAsync();
        var buffers = new RelayBuffers(128 * 1024, 8 * 1024, 4 << 20);
        byte[] up = RandomNumberGenerator.GetBytes(4 << 20), down = RandomNumberGenerator.GetBytes(4 << 20);
        using (app)
        using (server)
        {
            var relay = StreamPump.RunAsync(client, new NetworkStream(remoteNear, ownsSocket: true), buffers, sockets: new LinuxSocketFactory(0));
            var atServer = ReceiveExactlyAsync(server, up.Length);
            var atApp = ReceiveExactlyAsync(app, down.Length);
            await app.SendAsync(up);
            await server.SendAsync(down);
            byte[] gotUp = await atServer.WaitAsync(TimeSpan.FromSeconds(30)), gotDown = await atApp.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(up.AsSpan().SequenceEqual(gotUp), "the upload arrived damaged");
            Assert.True(down.AsSpan().SequenceEqual(gotDown), "the download arrived damaged");

            for (int i = 0; i < 200 && buffers.BytesInUse != 0; i++) await Task.Delay(10);
            Assert.True(buffers.BytesInUse == 0, $"the idle flow holds {buffers.BytesInUse} bytes of relay buffers");
            Assert.False(relay.IsCompleted);
            app.Shutdown(SocketShutdown.Send);
            server.Shutdown(SocketShutdown.Send);
            await relay.WaitAsync(TimeSpan.FromSeconds(10));
        }
        client.Dispose();
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

    private static async Task<byte[]> ReceiveExactlyAsync(Socket socket, int count)
    {
        var data = new byte[count];
        for (int got = 0; got < count;) got += await socket.ReceiveAsync(data.AsMemory(got));
        return data;
    }
}
