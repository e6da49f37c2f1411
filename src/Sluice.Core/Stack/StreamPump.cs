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
    /// <param name="buffers">The relay buffers and their budget (<see cref="EngineLimits.RelayBufferBudget"/>).</param>
    /// <param name="firstUp">Bytes already read from the app (sniffing, a proxy request's body) sent first.</param>
    /// <param name="connection">Byte counters to feed, when the flow is tracked.</param>
    /// <param name="sockets">Reads a busy socket without waiting (<see cref="ISocketFactory.TryReceiveNow"/>); null: every read after a drain waits.</param>
    public static async Task RunAsync(Socket client, Stream remote, RelayBuffers buffers, ReadOnlyMemory<byte> firstUp = default, TrackedConnection? connection = null,
        ISocketFactory? sockets = null)
    {
        if (!firstUp.IsEmpty)
        {
            await remote.WriteAsync(firstUp);
            connection?.AddUpload(firstUp.Length);
        }
        using var clientStream = new NetworkStream(client, ownsSocket: false);
        var up = PumpAsync(clientStream, remote, buffers, () => StreamEnds.ShutdownWrite(remote), connection is null ? null : connection.AddUpload, sockets);
        var down = PumpAsync(remote, clientStream, buffers, () => client.Shutdown(SocketShutdown.Send), connection is null ? null : connection.AddDownload, sockets);
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
    /// Copies until the end of <paramref name="from"/>. A socket (a one-byte peek), or a stream over one that says so
    /// (<see cref="IReadinessStream"/>: the Shadowsocks decoder; a zero-byte read), is waited on without a buffer (the
    /// wait completes once bytes are there), so an idle flow holds none: the buffer is rented when data
    /// is ready (large or small, as the budget of <paramref name="buffers"/> allows) and goes back to the pool
    /// once the socket is drained for now. After a large read (a quarter of the buffer or more: data keeps
    /// coming) a socket is read again at once without waiting (<paramref name="sockets"/>), and the buffer goes
    /// back only when that finds nothing (EAGAIN): one syscall per chunk instead of .NET's zero-byte wait (a
    /// MSG_PEEK recv) plus the read. After a small read (interactive traffic) the buffer goes back at once, as a
    /// retry would mostly cost an EAGAIN. Without a receive-now, a full read keeps the buffer only while the
    /// socket has more queued (FIONREAD): a read that waited with it would hold it for as long as the flow idles.
    /// A large buffer whose write had to wait (the far side is the
    /// bottleneck) goes back after it, and the next read takes what the budget gives then: a transfer that
    /// waits on its peer does not keep a large buffer from the others between its writes. A destination that
    /// frames its writes (<see cref="IFramedWriteStream"/>: Shadowsocks chunks) has its reads framed in place: the read
    /// leaves room for the frames' heads and tails, so a busy connection holds this one buffer while its write waits (a
    /// large one counts twice against the budget, <see cref="RelayBuffers"/>). Other streams end on an empty read, so they keep theirs
    /// while they live.
    /// </summary>
    private static async Task PumpAsync(Stream from, Stream to, RelayBuffers buffers, Action halfClose, Action<long>? count, ISocketFactory? sockets)
    {
        var socket = (from as NetworkStream)?.Socket;
        bool waitsWithoutBuffer = StreamEnds.WaitsWithoutBuffer(from);
        var receiveNow = socket is null ? null : sockets;
        var framed = to as IFramedWriteStream;
        byte[]? buffer = null;
        int offset = 0, limit = 0; // where a read goes in the buffer, and how many bytes it may fill
        bool inPlace = false; // the destination frames the read bytes where they lie
        try
        {
            int ready = -1; // bytes a receive without waiting already put in the buffer
            while (true)
            {
                int n = ready;
                ready = -1;
                if (n < 0 && buffer is null)
                {
                    // A socket's wait is a peek (SocketPeek: a zero-byte read completes at once after the receive-now,
                    // which reads around .NET), and it sees the end without a buffer.
                    if (waitsWithoutBuffer && !await StreamEnds.WaitReadableAsync(from, CancellationToken.None)) n = 0;
                    else buffer = Rent(buffers, framed, out offset, out limit, out inPlace);
                }
                if (n < 0) n = await from.ReadAsync(buffer!.AsMemory(offset, limit));
                if (n == 0) break;
                var filled = buffer!;
                var write = inPlace ? framed!.WriteInPlaceAsync(filled, offset, n) : to.WriteAsync(filled.AsMemory(0, n));
                bool waited = !write.IsCompleted;
                await write;
                count?.Invoke(n);
                if (waited && buffers.IsLarge(filled))
                {
                    buffers.Return(filled, framed is not null); // the budget decides again
                    buffer = filled = Rent(buffers, framed, out offset, out limit, out inPlace);
                }
                if (receiveNow is not null && n >= limit / 4)
                {
                    if (receiveNow.TryReceiveNow(socket!, filled.AsSpan(offset, limit), out ready)) continue;
                    ready = -1;
                }
                else if (!waitsWithoutBuffer || (n >= limit && socket is not null && socket.Available > 0))
                {
                    continue; // keeps the buffer: a stream that cannot wait without one, or a full read with more queued (no receive-now)
                }
                buffers.Return(filled, framed is not null);
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
            if (buffer is not null) buffers.Return(buffer, framed is not null);
        }
    }

    private static byte[] Rent(RelayBuffers buffers, IFramedWriteStream? framed, out int offset, out int limit, out bool inPlace)
    {
        var buffer = buffers.Rent(framed is not null);
        offset = 0;
        limit = buffer.Length;
        inPlace = framed is not null && framed.FitsInPlace(buffer.Length, out offset, out limit);
        if (framed is not null && !inPlace)
        {
            offset = 0;
            limit = Math.Clamp(framed.PayloadFitting(buffer.Length), 1, buffer.Length);
        }
        return buffer;
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
