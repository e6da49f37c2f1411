using System.Net;
using System.Net.Sockets;
using Sluice.Core.Tun;
using Sluice.Platform.Linux.Tests.Support;

namespace Sluice.Platform.Linux.Tests.Routing;

/// <summary>
/// Two namespaces joined by a veth: "host" runs auto_route (everything into its TUN), "lan" is a
/// neighbour connecting to a server on the host. The reply must leave by the veth it came in on.
/// </summary>
public class ReplyPathTests
{
    private const string Tun = "sltun0";

    [Fact]
    public void HostServer_ReachedOnAPhysicalInterface_AnswersThatWay_WhileAllTrafficIsCaptured()
    {
        using var host = new TestNamespace();
        using var lan = new TestNamespace();
        host.Ip("link", "add", "v0", "type", "veth", "peer", "name", "v1", "netns", lan.Name);
        host.Ip("address", "add", "192.168.200.1/24", "dev", "v0");
        host.Ip("link", "set", "v0", "up");
        lan.Ip("address", "add", "192.168.200.2/24", "dev", "v1");
        lan.Ip("link", "set", "v1", "up");

        using var tun = host.Run(() =>
        {
            var t = LinuxTunDevice.Create(Tun, 1500);
            TunInterfaceSetup.Configure(Tun, [IpPrefix.Parse("10.77.0.1/30")], 1500, host.Name);
            return t;
        });
        var plan = new AutoRoutePlan(Tun, 2022, 0x2022, 9000, true, false, [], [], false);
        var routes = new LinuxRouteTable(host.Name);
        routes.Apply(plan);
        try
        {
            using var listener = host.Run(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
            listener.Bind(new IPEndPoint(IPAddress.Parse("192.168.200.1"), 0));
            listener.Listen();
            var server = (IPEndPoint)listener.LocalEndPoint!;

            // The host's own outgoing traffic to the LAN is captured (table 2022 wins over main) ...
            Assert.Contains($"dev {Tun} table 2022", host.Ip("-4", "route", "get", "192.168.200.2"));
            // ... yet a connection the LAN opens is answered over the veth.
            Assert.True(TryConnect(lan, server), "the SYN-ACK did not come back over the veth: the reply was routed into the TUN");

            // Control: without the nftables reply marking, the SYN-ACK goes into the TUN.
            IpCommand.Nft(AutoRouteRenderer.RenderNftablesRemove(), host.Name);
            Assert.False(TryConnect(lan, server), "connected without reply marking, so the test proves nothing");
        }
        finally
        {
            routes.Remove(plan);
        }
    }

    private static bool TryConnect(TestNamespace ns, IPEndPoint server) => ns.Run(() =>
    {
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            return client.ConnectAsync(server).Wait(TimeSpan.FromSeconds(2)) && client.Connected;
        }
        catch (AggregateException)
        {
            return false;
        }
    });
}
