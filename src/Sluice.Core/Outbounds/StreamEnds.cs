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
/// A stream whose writes add framing (Shadowsocks chunks' lengths and tags): a relay that reads for it
/// reads at most <see cref="PayloadFitting"/> of its buffer's size, so the framed write fits a buffer of
/// the same size and a busy connection holds two buffers of one size class, not one twice as large.
/// </summary>
internal interface IFramedWriteStream
{
    /// <summary>The most bytes whose framed form fits in <paramref name="bytes"/> (once any header has gone).</summary>
    int PayloadFitting(int bytes);
}

/// <summary>Half-close and abort for any outbound stream: a wrapper passes them down, a socket does them.</summary>
internal static class StreamEnds
{
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
