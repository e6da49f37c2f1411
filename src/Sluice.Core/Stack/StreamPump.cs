using System.Buffers;
using System.Net.Sockets;
using Sluice.Core.Monitoring;
using Sluice.Core.Outbounds;

namespace Sluice.Core.Stack;

/// <summary>
/// Relays an accepted app socket and an outbound stream both ways, passing half-closes on; when one
/// side breaks the other is torn down at once. Used by the TUN's TCP relay and the mixed inbound.
/// </summary>
internal static class StreamPump
{
    /// <param name="bufferSize">Bytes per direction (<see cref="EngineLimits.RelayBuffer"/>).</param>
    /// <param name="firstUp">Bytes already read from the app (sniffing, a proxy request's body) sent first.</param>
    /// <param name="connection">Byte counters to feed, when the flow is tracked.</param>
    public static async Task RunAsync(Socket client, Stream remote, int bufferSize, ReadOnlyMemory<byte> firstUp = default, TrackedConnection? connection = null)
    {
        if (!firstUp.IsEmpty)
        {
            await remote.WriteAsync(firstUp);
            connection?.AddUpload(firstUp.Length);
        }
        using var clientStream = new NetworkStream(client, ownsSocket: false);
        var up = PumpAsync(clientStream, remote, bufferSize, () => StreamEnds.ShutdownWrite(remote), connection is null ? null : connection.AddUpload);
        var down = PumpAsync(remote, clientStream, bufferSize, () => client.Shutdown(SocketShutdown.Send), connection is null ? null : connection.AddDownload);
        var first = await Task.WhenAny(up, down);
        if (first.IsFaulted)
        {
            Reset(client);
            remote.Dispose();
        }
        try
        {
            await Task.WhenAll(up, down);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            Reset(client);
        }
    }

    private static async Task PumpAsync(Stream from, Stream to, int bufferSize, Action halfClose, Action<long>? count)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
        try
        {
            while (true)
            {
                int n = await from.ReadAsync(buffer);
                if (n == 0) break;
                await to.WriteAsync(buffer.AsMemory(0, n));
                count?.Invoke(n);
            }
            try
            {
                halfClose();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException)
            {
                // Peer already gone.
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Closes with an RST (SO_LINGER 0) so the app sees a refusal at once, not a timeout.</summary>
    public static void Reset(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
            socket.Close();
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }
}
