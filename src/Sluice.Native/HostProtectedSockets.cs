using System.Net.Sockets;
using Sluice.Core.Configuration;
using Sluice.Core.Outbounds;

namespace Sluice.Native;

/// <summary>
/// The engine's outside sockets, each handed to the host's <c>protect(fd)</c> before it connects or sends:
/// the Android/Apple way to keep the engine's own traffic out of its TUN. A socket the host refuses is
/// closed and the dial fails with an <see cref="OutboundException"/> saying so: sending it anyway would
/// loop it back into the TUN. Sockets that belong inside (bound to the TUN, the relay's listener) are not
/// outside sockets and are not protected.
/// </summary>
internal sealed class HostProtectedSockets(ISocketFactory inner, HostCallbacks host) : ISocketFactory
{
    public IHostResolver Hosts => inner.Hosts;

    public Socket CreateTcp(AddressFamily family, DialOptions? dial = null) => Protect(inner.CreateTcp(family, dial), "TCP");

    public Socket CreateUdp(AddressFamily family, DialOptions? dial = null) => Protect(inner.CreateUdp(family, dial), "UDP");

    public Socket CreateIcmp(AddressFamily family) => Protect(inner.CreateIcmp(family), "ICMP");

    public Socket CreateOnDevice(AddressFamily family, SocketType type, string device) => inner.CreateOnDevice(family, type, device);

    public Socket CreateTunListener(AddressFamily family) => inner.CreateTunListener(family);

    public void TuneAccepted(Socket accepted, TcpKeepAlive? keepAlive) => inner.TuneAccepted(accepted, keepAlive);

    public IDatagramBatchIo? CreateBatchIo(Socket udpSocket) => inner.CreateBatchIo(udpSocket);

    private Socket Protect(Socket socket, string kind)
    {
        int fd = (int)socket.Handle;
        if (host.Protect(fd)) return socket;
        socket.Dispose();
        throw new OutboundException(
            $"the host refused to protect the engine's {kind} socket (protect(fd {fd}) returned 0): not sending it, " +
            "since an unprotected socket would loop back into the TUN; the host's protect callback must return 1 for the engine's sockets");
    }
}
