using System.Net.Sockets;
using Sluice.Core.Configuration;

namespace Sluice.Core.Outbounds;

/// <summary>
/// The platform's sockets as the engine uses them. route.default_interface: the outside sockets (outbounds, DNS,
/// WireGuard) are bound to one device unless their outbound's bind_interface names another; the mark stays, so the gate
/// still lets them through (what a user sets when the main table's default route is not the way out). And
/// <paramref name="hosts"/>, when given, answers every host-name lookup in place of the platform's (getaddrinfo): with
/// auto_route its unmarked queries would enter the engine's own TUN, where a fakeip server may answer them with an
/// address nobody can dial (see <see cref="EngineHostResolver"/>).
/// </summary>
internal sealed class EngineSockets(ISocketFactory inner, string? defaultInterface, IHostResolver? hosts = null) : ISocketFactory
{
    private readonly DialOptions? _bound = defaultInterface is null ? null : DialOptions.Default with { BindInterface = defaultInterface };

    public IHostResolver Hosts => hosts ?? inner.Hosts;

    public Socket CreateTcp(AddressFamily family, DialOptions? dial = null) => inner.CreateTcp(family, Bound(dial));

    public Socket CreateUdp(AddressFamily family, DialOptions? dial = null) => inner.CreateUdp(family, Bound(dial));

    public Socket CreateIcmp(AddressFamily family) => inner.CreateIcmp(family);

    public Socket CreateOnDevice(AddressFamily family, SocketType type, string tunDevice) => inner.CreateOnDevice(family, type, tunDevice);

    public Socket CreateTunListener(AddressFamily family) => inner.CreateTunListener(family);

    public void TuneAccepted(Socket accepted, TcpKeepAlive? keepAlive) => inner.TuneAccepted(accepted, keepAlive);

    public IDatagramBatchIo? CreateBatchIo(Socket udpSocket) => inner.CreateBatchIo(udpSocket);

    public bool TryReceiveNow(Socket socket, Span<byte> buffer, out int received) => inner.TryReceiveNow(socket, buffer, out received);

    private DialOptions? Bound(DialOptions? dial) =>
        _bound is null ? dial : dial is null ? _bound : dial.BindInterface is null ? dial with { BindInterface = defaultInterface } : dial;
}
