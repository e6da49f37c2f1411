using System.Net.Sockets;
using Sluice.Platform.Linux.Native;

namespace Sluice.Platform.Linux;

/// <summary>recv(2) with MSG_DONTWAIT on a stream socket's fd: what is there now, or EAGAIN at once.</summary>
internal static unsafe class StreamReceiveNow
{
    private const int ECONNRESET = 104;
    private const int ETIMEDOUT = 110;

    /// <exception cref="SocketException">The socket failed (reset, …).</exception>
    public static bool TryReceive(Socket socket, Span<byte> buffer, out int received)
    {
        received = 0;
        var handle = socket.SafeHandle;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            nint n;
            do
            {
                fixed (byte* p = buffer) n = Libc.Recv((int)handle.DangerousGetHandle(), p, (nuint)buffer.Length, Libc.MSG_DONTWAIT);
            }
            while (n < 0 && Libc.LastError == Libc.EINTR);
            if (n < 0)
            {
                int errno = Libc.LastError;
                if (errno == Libc.EAGAIN) return false;
                throw new SocketException((int)(errno switch
                {
                    ECONNRESET => SocketError.ConnectionReset,
                    ETIMEDOUT => SocketError.TimedOut,
                    _ => SocketError.SocketError,
                }));
            }
            received = (int)n;
            return true;
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }
}
