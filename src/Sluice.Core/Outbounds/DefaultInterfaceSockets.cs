using System.Net.Sockets;
using Sluice.Core.Configuration;

namespace Sluice.Core.Outbounds;

/// <summary>
/// route.default_interface: the engine's outside sockets (outbounds, DNS, WireGuard) are bound to one device unless
/// their outbound's bind_interface names another; the mark stays, so the gate still lets them through. What a user
/// sets when the main table's default route is not the way out (another VPN's device, a second uplink).
/// </summary>
internal sealed class DefaultInterfaceSockets(ISocketFactory inner, string device) : ISocketFactory
{
    private readonly DialOptions _bound = DialOptions.Default with { BindInterface = device };

    public IHostResolver Hosts => inner.Hosts;

    public Socket CreateTcp(AddressFamily family, DialOptions? dial = null) => inner.CreateTcp(family, Bound(dial));

    public Socket CreateUdp(AddressFamily family, DialOptions? dial = null) => inner.CreateUdp(family, Bound(dial));

    public Socket CreateIcmp(AddressFamily family) => inner.CreateIcmp(family);

    public Socket CreateOnDevice(AddressFamily family, SocketType type, string tunDevice) => inner.CreateOnDevice(family, type, tunDevice);

    public Socket CreateTunListener(AddressFamily family) => inner.CreateTunListener(family);

    public IDatagramBatchIo? CreateBatchIo(Socket udpSocket) => inner.CreateBatchIo(udpSocket);

    public bool TryReceiveNow(Socket socket, Span<byte> buffer, out int received) => inner.TryReceiveNow(socket, buffer, out received);

    private DialOptions Bound(DialOptions? dial) => dial is null ? _bound : dial.BindInterface is null ? dial with { BindInterface = device } : dial;
}
