using System.Net.Sockets;

namespace Sluice.Core.Outbounds;

/// <summary>
/// Waits for a socket's next bytes, datagram or end without a buffer: a one-byte MSG_PEEK receive, which consumes
/// nothing. Not a zero-byte read: after a read that took bytes (or one made around .NET, the relay's receive-now), .NET
/// still counts the socket readable, since it saw no EAGAIN, so a zero-byte read completes at once and the caller's
/// next read then waits with its buffer for as long as the flow idles; the peek meets the EAGAIN and waits.
/// </summary>
internal static class SocketPeek
{
    // Where the peeked byte lands: shared, as nobody reads it.
    private static readonly byte[] Sink = new byte[1];

    /// <returns>1 when bytes (a datagram) wait; 0 at a stream socket's end.</returns>
    public static ValueTask<int> WaitAsync(Socket socket, CancellationToken cancellationToken) => socket.ReceiveAsync(Sink, SocketFlags.Peek, cancellationToken);
}
