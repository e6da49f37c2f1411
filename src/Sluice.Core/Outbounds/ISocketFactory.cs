using System.Net.Sockets;

namespace Sluice.Core.Outbounds;

/// <summary>
/// Creates the sockets the engine uses to reach the outside. Every one carries the engine's
/// routing mark, so policy routing sends it by the main table instead of back into the TUN, and
/// the gate lets it through.
/// </summary>
public interface ISocketFactory
{
    Socket CreateTcp(AddressFamily family);

    Socket CreateUdp(AddressFamily family);

    /// <summary>A socket able to send ICMP / ICMPv6 echo requests and receive their replies.</summary>
    Socket CreateIcmp(AddressFamily family);

    /// <summary>
    /// An UNMARKED socket bound to a device (the TUN): the engine's own traffic that must take a lane
    /// of its own packet path, e.g. a DoH query or a proxied stream through the WireGuard lane.
    /// </summary>
    Socket CreateOnDevice(AddressFamily family, SocketType type, string device);

    /// <summary>
    /// Batched I/O over a UDP socket this factory made (many datagrams per syscall), or null when the
    /// platform has none; the caller then sends and receives one datagram per call. The socket keeps
    /// owning the fd; dispose the batch I/O before the socket.
    /// </summary>
    IDatagramBatchIo? CreateBatchIo(Socket udpSocket) => null;
}
