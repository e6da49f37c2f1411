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
    /// <param name="sockets">Reads a busy socket without waiting (<see cref="ISocketFactory.TryReceiveNow"/>); null: every read after a drain waits.</param>
    public static async Task RunAsync(Socket client, Stream remote, int bufferSize, ReadOnlyMemory<byte> firstUp = default, TrackedConnection? connection = null,
        ISocketFactory? sockets = null)
    {
        if (!firstUp.IsEmpty)
        {
            await remote.WriteAsync(firstUp);
            connection?.AddUpload(firstUp.Length);
        }
        using var clientStream = new NetworkStream(client, ownsSocket: false);
        var up = PumpAsync(clientStream, remote, bufferSize, () => StreamEnds.ShutdownWrite(remote), connection is null ? null : connection.AddUpload, sockets);
        var down = PumpAsync(remote, clientStream, bufferSize, () => client.Shutdown(SocketShutdown.Send), connection is null ? null : connection.AddDownload, sockets);
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

    /// <summary>
    /// Copies until the end of <paramref name="from"/>. A socket, or a stream over one that says so
    /// (<see cref="IReadinessStream"/>: the Shadowsocks decoder), is waited on without a buffer (a zero-byte
    /// read completes once bytes are there), so an idle flow holds none: the buffer is rented when data
    /// is ready and goes back to the pool once the socket is drained for now. After a large read (a quarter
    /// of the buffer or more: data keeps coming) a socket is read again at once without waiting
    /// (<paramref name="sockets"/>), and the buffer goes back only when that finds nothing (EAGAIN): one
    /// syscall per chunk instead of .NET's zero-byte wait (a MSG_PEEK recv) plus the read. After a small read
    /// (interactive traffic) the buffer goes back at once, as a retry would mostly cost an EAGAIN.
    /// Other streams end on an empty read, so they keep theirs while they live.
    /// </summary>
    private static async Task PumpAsync(Stream from, Stream to, int bufferSize, Action halfClose, Action<long>? count, ISocketFactory? sockets)
    {
        var socket = (from as NetworkStream)?.Socket;
        bool waitsWithoutBuffer = socket is not null || from is IReadinessStream { WaitsWithoutBuffer: true };
        var receiveNow = socket is null ? null : sockets;
        byte[]? buffer = null;
        try
        {
            int ready = -1; // bytes a receive without waiting already put in the buffer
            while (true)
            {
                int n = ready;
                ready = -1;
                if (n < 0)
                {
                    if (buffer is null)
                    {
                        if (socket is not null) await socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None); // consumes nothing
                        else if (waitsWithoutBuffer) _ = await from.ReadAsync(Memory<byte>.Empty);
                        buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
                    }
                    n = await from.ReadAsync(buffer);
                }
                if (n == 0) break;
                var filled = buffer!;
                await to.WriteAsync(filled.AsMemory(0, n));
                count?.Invoke(n);
                if (receiveNow is not null && n >= filled.Length / 4)
                {
                    if (receiveNow.TryReceiveNow(socket!, filled, out ready)) continue;
                    ready = -1;
                }
                else if (!waitsWithoutBuffer || n == filled.Length)
                {
                    continue; // keeps the buffer: a stream that cannot wait without one, or a full read without a receive-now
                }
                ArrayPool<byte>.Shared.Return(filled);
                buffer = null;
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
            if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer);
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
