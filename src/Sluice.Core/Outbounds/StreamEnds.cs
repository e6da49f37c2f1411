using System.Net.Sockets;

namespace Sluice.Core.Outbounds;

/// <summary>
/// A stream that wraps another connection (a Shadowsocks stream over its server connection, a stream
/// dialed through a detour) and passes the two TCP-level endings down to the socket at the bottom.
/// </summary>
internal interface IConnectionStream
{
    /// <summary>Sends FIN after the bytes written so far (the peer's reads end; ours go on).</summary>
    void ShutdownWrite();

    /// <summary>Closes at once with an RST where the bottom is a socket, so the peer sees a reset, not a FIN.</summary>
    void Abort();
}

/// <summary>
/// A stream whose zero-byte read waits until a read will find bytes, without a buffer (as a socket's
/// does), when <see cref="WaitsWithoutBuffer"/>: the relay then holds no buffer while the flow is idle.
/// </summary>
internal interface IReadinessStream
{
    bool WaitsWithoutBuffer { get; }
}

/// <summary>
/// A stream whose writes add framing (Shadowsocks chunks' lengths and tags). A relay reads the payload where
/// <see cref="FitsInPlace"/> places it in its buffer and has it framed there (<see cref="WriteInPlaceAsync"/>), so a
/// busy connection holds one buffer, not the relay's and a framing one; where a buffer cannot take that (too small
/// for a frame) it reads at most <see cref="PayloadFitting"/> of its buffer's size, so the framed write fits a buffer
/// of the same size class.
/// </summary>
internal interface IFramedWriteStream
{
    /// <summary>The most bytes whose framed form fits in <paramref name="bytes"/> (once any header has gone).</summary>
    int PayloadFitting(int bytes);

    /// <summary>
    /// Where a payload framed in place goes in a buffer of <paramref name="bufferLength"/> bytes (room for the frames'
    /// heads and tails around it) and how long it may be; false when the buffer has no room for a frame.
    /// </summary>
    bool FitsInPlace(int bufferLength, out int offset, out int payload);

    /// <summary>
    /// Frames the <paramref name="length"/> bytes at <paramref name="offset"/> of <paramref name="buffer"/> in place
    /// (as placed by <see cref="FitsInPlace"/>, overwriting the bytes around them) and writes the frame. The buffer's
    /// bytes are the stream's until the returned task completes.
    /// </summary>
    ValueTask WriteInPlaceAsync(Memory<byte> buffer, int offset, int length, CancellationToken cancellationToken = default);
}

/// <summary>Half-close and abort for any outbound stream: a wrapper passes them down, a socket does them.</summary>
internal static class StreamEnds
{
    /// <summary>True when <paramref name="transport"/> can wait for bytes without a buffer: a socket, or a readiness stream that says so.</summary>
    public static bool WaitsWithoutBuffer(Stream transport) => transport is System.Net.Sockets.NetworkStream or IReadinessStream { WaitsWithoutBuffer: true };

    /// <summary>
    /// Waits, holding no buffer, until a read from <paramref name="transport"/> will find bytes or the end: a socket by
    /// <see cref="SocketPeek"/>, a readiness stream by its zero-byte read.
    /// </summary>
    /// <returns>False when the wait saw the end (a socket's); true when a read will find bytes, or may find the end.</returns>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))] // once per wait of a relay: no box each time
    public static async ValueTask<bool> WaitReadableAsync(Stream transport, CancellationToken cancellationToken)
    {
        if (transport is System.Net.Sockets.NetworkStream network) return await SocketPeek.WaitAsync(network.Socket, cancellationToken).ConfigureAwait(false) > 0;
        _ = await transport.ReadAsync(Memory<byte>.Empty, cancellationToken).ConfigureAwait(false);
        return true;
    }

    public static void ShutdownWrite(Stream stream)
    {
        switch (stream)
        {
            case IConnectionStream connection:
                connection.ShutdownWrite();
                break;
            case NetworkStream network:
                network.Socket.Shutdown(SocketShutdown.Send);
                break;
        }
    }

    /// <summary>RST (SO_LINGER 0) then dispose; other streams are only disposed.</summary>
    public static void Abort(Stream stream)
    {
        switch (stream)
        {
            case IConnectionStream connection:
                connection.Abort();
                break;
            case NetworkStream network:
                try
                {
                    network.Socket.LingerState = new LingerOption(true, 0);
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                }
                network.Dispose();
                break;
            default:
                stream.Dispose();
                break;
        }
    }
}
