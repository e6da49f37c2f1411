using System.Buffers;
using System.Net.Sockets;

namespace Sluice.Core.Inbounds.Mixed;

/// <summary>Copies bytes both ways between the client socket and the outbound stream, passing half-closes on.</summary>
internal static class StreamRelay
{
    private const int BufferSize = 128 * 1024;

    public static async Task RunAsync(Socket client, Stream remote, ReadOnlyMemory<byte> firstUp = default)
    {
        if (!firstUp.IsEmpty) await remote.WriteAsync(firstUp);
        using var clientStream = new NetworkStream(client, ownsSocket: false);
        var up = PumpAsync(clientStream, remote, () => (remote as NetworkStream)?.Socket.Shutdown(SocketShutdown.Send));
        var down = PumpAsync(remote, clientStream, () => client.Shutdown(SocketShutdown.Send));
        var first = await Task.WhenAny(up, down);
        if (first.IsFaulted)
        {
            // One side broke: end the other at once instead of waiting on it.
            remote.Dispose();
            client.Dispose();
        }
        try
        {
            await Task.WhenAll(up, down);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
    }

    private static async Task PumpAsync(Stream from, Stream to, Action halfClose)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            while (true)
            {
                int n = await from.ReadAsync(buffer);
                if (n == 0) break;
                await to.WriteAsync(buffer.AsMemory(0, n));
            }
            try
            {
                halfClose();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
