using System.Net.Sockets;

namespace Sluice.Core.Stack;

/// <summary>
/// Accepts connections until <paramref name="stop"/> fires, handing each to its handler without
/// waiting for it; a failed accept (a client that reset before it was taken, the fd limit) is
/// reported and the loop goes on. Shared by the TUN's TCP relay and the loopback inbounds.
/// </summary>
internal static class AcceptLoop
{
    public static async Task RunAsync(Socket listener, Func<Socket, Task> handle, Action<SocketError> acceptFailed, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(stop);
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException e)
            {
                acceptFailed(e.SocketErrorCode);
                continue;
            }
            _ = handle(client);
        }
    }
}
