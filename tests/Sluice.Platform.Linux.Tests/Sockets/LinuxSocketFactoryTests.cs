using System.Net;
using System.Net.Sockets;
using Sluice.Core.Configuration;
using Sluice.Platform.Linux.Tests.Support;

namespace Sluice.Platform.Linux.Tests.Sockets;

public class LinuxSocketFactoryTests
{
    [Theory]
    [InlineData(AddressFamily.InterNetwork)]
    [InlineData(AddressFamily.InterNetworkV6)]
    public void CreatedSockets_CarryTheFwMark(AddressFamily family)
    {
        Preconditions.RequireRootAndTun();
        var factory = new LinuxSocketFactory(0x2022);
        using var tcp = factory.CreateTcp(family);
        using var udp = factory.CreateUdp(family);
        using var icmp = factory.CreateIcmp(family);
        Assert.Equal(0x2022u, LinuxSocketFactory.GetMark(tcp));
        Assert.Equal(0x2022u, LinuxSocketFactory.GetMark(udp));
        Assert.Equal(0x2022u, LinuxSocketFactory.GetMark(icmp));
        Assert.True(tcp.NoDelay);
        Assert.Equal(SocketType.Raw, icmp.SocketType);
        Assert.Equal(family == AddressFamily.InterNetwork ? ProtocolType.Icmp : ProtocolType.IcmpV6, icmp.ProtocolType);
    }

    [Fact]
    public void SetMark_ChangesTheMarkOfAnExistingSocket()
    {
        Preconditions.RequireRootAndTun();
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        Assert.Equal(0u, LinuxSocketFactory.GetMark(socket));
        LinuxSocketFactory.SetMark(socket, 0xdeadbeef);
        Assert.Equal(0xdeadbeefu, LinuxSocketFactory.GetMark(socket));
    }

    [Fact]
    public void DialOptions_RoutingMarkReplacesTheEngineMark_AndBindInterfaceConfinesTheSocket()
    {
        Preconditions.RequireRootAndTun();
        var factory = new LinuxSocketFactory(0x2022);
        var dial = DialOptions.Default with { RoutingMark = 0x99, BindInterface = "lo" };
        using var tcp = factory.CreateTcp(AddressFamily.InterNetwork, dial);
        using var udp = factory.CreateUdp(AddressFamily.InterNetwork, dial);
        Assert.Equal(0x99u, LinuxSocketFactory.GetMark(tcp));
        Assert.Equal(0x99u, LinuxSocketFactory.GetMark(udp));
        Assert.Equal("lo", BoundDevice(tcp));
        Assert.Equal("lo", BoundDevice(udp));
        using var plain = factory.CreateTcp(AddressFamily.InterNetwork, DialOptions.Default);
        Assert.Equal(0x2022u, LinuxSocketFactory.GetMark(plain));
        Assert.Equal("", BoundDevice(plain));
    }

    [Fact]
    public void DefaultInterface_BindsSocketsWhoseOutboundNamesNone_KeepingTheMarkAndAnOwnBindInterface()
    {
        Preconditions.RequireRootAndTun();
        var factory = new Sluice.Core.Outbounds.EngineSockets(new LinuxSocketFactory(0x2022), "lo");
        using var tcp = factory.CreateTcp(AddressFamily.InterNetwork);
        using var udp = factory.CreateUdp(AddressFamily.InterNetworkV6, DialOptions.Default with { RoutingMark = 0x99 });
        Assert.Equal("lo", BoundDevice(tcp));
        Assert.Equal(0x2022u, LinuxSocketFactory.GetMark(tcp));
        Assert.Equal("lo", BoundDevice(udp));
        Assert.Equal(0x99u, LinuxSocketFactory.GetMark(udp));
        // An outbound's own bind_interface is used as given: a device that does not exist fails, not "lo".
        var own = DialOptions.Default with { BindInterface = "nonesuch0" };
        Assert.Throws<SocketException>(() => factory.CreateTcp(AddressFamily.InterNetwork, own).Dispose());
    }

    [Theory]
    [InlineData("192.0.2.77")]
    [InlineData("2001:db8::77")]
    public void TunListener_BindsAnAddressTheHostDoesNotHave(string address)
    {
        var ip = IPAddress.Parse(address);
        using var listener = new LinuxSocketFactory(0x2022).CreateTunListener(ip.AddressFamily);
        listener.Bind(new IPEndPoint(ip, 0)); // EADDRNOTAVAIL without IP(V6)_FREEBIND
        listener.Listen(1);
        Assert.Equal(ip, ((IPEndPoint)listener.LocalEndPoint!).Address);
        Assert.Equal(0u, LinuxSocketFactory.GetMark(listener)); // the TUN side is not the engine's outside traffic
    }

    /// <summary>
    /// sing-box's keep-alive dial fields reach the socket an outbound dials: read back with getsockopt from a real
    /// connection (SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL). Unset, sing-box 1.13's 5 min / 75 s; disabled, none.
    /// </summary>
    [Theory]
    [InlineData("", 1, 300, 75)]
    [InlineData(", \"tcp_keep_alive\": \"7s\", \"tcp_keep_alive_interval\": \"1500ms\"", 1, 7, 2)]
    [InlineData(", \"tcp_keep_alive\": \"0\", \"tcp_keep_alive_interval\": \"20s\"", 1, 300, 20)]
    [InlineData(", \"disable_tcp_keep_alive\": true", 0, 0, 0)]
    public void KeepAliveDialFields_AreSetOnTheDialedConnection(string fields, int keepAlive, int idle, int interval)
    {
        Preconditions.RequireRootAndTun();
        var config = ConfigLoader.Load($$"""{"outbounds": [{"type": "direct", "tag": "d"{{fields}}}, {"type": "http", "tag": "h", "server": "127.0.0.1", "server_port": 1{{fields}}}]}""");
        var direct = Assert.IsType<DirectOutboundOptions>(config.Outbounds[0]).Dial;
        var proxy = Assert.IsType<HttpOutboundOptions>(config.Outbounds[1]).Server.Dial;
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(2);

        foreach (var dial in new[] { direct, proxy })
        {
            using var socket = new LinuxSocketFactory(0x2022).CreateTcp(AddressFamily.InterNetwork, dial);
            socket.Connect(listener.LocalEndPoint!);

            Assert.Equal(keepAlive, Option(socket, 1 /* SOL_SOCKET */, 9 /* SO_KEEPALIVE */));
            if (keepAlive == 0) continue;
            Assert.Equal(idle, Option(socket, 6 /* SOL_TCP */, 4 /* TCP_KEEPIDLE */));
            Assert.Equal(interval, Option(socket, 6, 5 /* TCP_KEEPINTVL */));
        }
    }

    /// <summary>
    /// sing-box's listen fields on a mixed/socks/http inbound reach the connections it accepts: read back with getsockopt
    /// from a real accepted connection. Unset, sing-box 1.13's 5 min / 75 s; disabled, none.
    /// </summary>
    [Theory]
    [InlineData("mixed", "", 1, 300, 75)]
    [InlineData("socks", ", \"tcp_keep_alive\": \"7s\", \"tcp_keep_alive_interval\": \"1500ms\"", 1, 7, 2)]
    [InlineData("http", ", \"disable_tcp_keep_alive\": true", 0, 0, 0)]
    public void KeepAliveListenFields_AreSetOnTheAcceptedConnection(string type, string fields, int keepAlive, int idle, int interval)
    {
        var config = ConfigLoader.Load($$"""{"inbounds": [{"type": "{{type}}", "tag": "in", "listen": "127.0.0.1", "listen_port": 2080{{fields}}}]}""");
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(2);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(listener.LocalEndPoint!);
        using var accepted = listener.Accept();

        new LinuxSocketFactory(0x2022).TuneAccepted(accepted, config.MixedInbounds.Single().KeepAlive);

        Assert.Equal(keepAlive, Option(accepted, 1 /* SOL_SOCKET */, 9 /* SO_KEEPALIVE */));
        if (keepAlive == 0) return;
        Assert.Equal(idle, Option(accepted, 6 /* SOL_TCP */, 4 /* TCP_KEEPIDLE */));
        Assert.Equal(interval, Option(accepted, 6, 5 /* TCP_KEEPINTVL */));
    }

    [Fact]
    public void KeepAliveLongerThanTheKernelAllows_IsAnErrorAtItsPath()
    {
        var errors = ConfigLoader.Validate("""{"outbounds": [{"type": "direct", "tag": "d", "tcp_keep_alive": "10h"}]}""");

        Assert.Equal("outbounds[0].tcp_keep_alive: 36000 s is longer than the kernel allows (32767 s, about 9h6m)", Assert.Single(errors).ToString());
    }

    private static int Option(Socket socket, int level, int name)
    {
        Span<byte> value = stackalloc byte[4];
        socket.GetRawSocketOption(level, name, value);
        return BitConverter.ToInt32(value);
    }

    private static string BoundDevice(Socket socket)
    {
        Span<byte> name = stackalloc byte[16];
        int length = socket.GetRawSocketOption(1 /* SOL_SOCKET */, 25 /* SO_BINDTODEVICE */, name);
        return System.Text.Encoding.ASCII.GetString(name[..length]).TrimEnd('\0');
    }
}
