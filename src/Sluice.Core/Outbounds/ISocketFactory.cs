using System.Net.Sockets;
using Sluice.Core.Configuration;

namespace Sluice.Core.Outbounds;

/// <summary>
/// The one place the engine gets its sockets and the host's names from (the seam an embedded host's
/// <c>protect(fd)</c> callback takes over). Every outside socket carries the engine's routing mark, so
/// policy routing sends it by the main table instead of back into the TUN, and the gate lets it through.
/// Socket options are the platform's business: the engine asks for what it needs (a mark, a device,
/// a listener on an address not yet up) and never sets option numbers itself.
/// </summary>
public interface ISocketFactory
{
    /// <summary>
    /// A TCP socket to the outside (TCP_NODELAY on). <paramref name="dial"/>: an outbound's own dial
    /// fields — <c>routing_mark</c> replaces the engine's mark, <c>bind_interface</c> confines the socket
    /// to a device; null = the engine's mark only.
    /// </summary>
    Socket CreateTcp(AddressFamily family, DialOptions? dial = null);

    /// <summary>A UDP socket to the outside; <paramref name="dial"/> as for <see cref="CreateTcp"/>.</summary>
    Socket CreateUdp(AddressFamily family, DialOptions? dial = null);

    /// <summary>A socket able to send ICMP / ICMPv6 echo requests and receive their replies.</summary>
    Socket CreateIcmp(AddressFamily family);

    /// <summary>
    /// An UNMARKED socket bound to a device (the TUN): the engine's own traffic that must take a lane
    /// of its own packet path, e.g. a DoH query or a proxied stream through the WireGuard lane.
    /// </summary>
    Socket CreateOnDevice(AddressFamily family, SocketType type, string device);

    /// <summary>
    /// A TCP listening socket (not yet bound) that may bind to an address the host does not have up yet:
    /// the relay's listener on the TUN address, bound while IPv6 duplicate address detection still runs.
    /// </summary>
    Socket CreateTunListener(AddressFamily family);

    /// <summary>
    /// Tunes a connection a local listener of the engine accepted (the mixed/socks/http inbounds): keep-alive probes as
    /// <paramref name="keepAlive"/> says (null: none). The accepted socket is the app's side, so it gets no mark.
    /// </summary>
    void TuneAccepted(Socket accepted, TcpKeepAlive? keepAlive);

    /// <summary>The host's own resolver, for names no DNS server of the engine covers.</summary>
    IHostResolver Hosts { get; }

    /// <summary>
    /// Batched I/O over a UDP socket this factory made (many datagrams per syscall), or null when the
    /// platform has none; the caller then sends and receives one datagram per call. The socket keeps
    /// owning the fd; dispose the batch I/O before the socket.
    /// </summary>
    IDatagramBatchIo? CreateBatchIo(Socket udpSocket) => null;

    /// <summary>
    /// Reads what a connected stream socket holds now, without waiting and without .NET's readiness
    /// bookkeeping: true with the byte count (0 = the peer's end) when something was there, false when
    /// nothing is yet (EAGAIN) or the platform cannot (then the caller waits as usual). Errors throw
    /// <see cref="SocketException"/>. Lets the relay keep reading a busy socket in one syscall per chunk
    /// and give its buffer back only once the socket is drained (<see cref="Stack.StreamPump"/>).
    /// </summary>
    bool TryReceiveNow(Socket socket, Span<byte> buffer, out int received)
    {
        received = 0;
        return false;
    }
}
