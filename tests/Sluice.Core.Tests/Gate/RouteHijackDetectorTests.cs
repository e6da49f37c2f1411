using Sluice.Core.Gate;
using Sluice.Core.Tun;

namespace Sluice.Core.Tests.Gate;

public class RouteHijackDetectorTests
{
    private static HostRoute Route(string dst, string? via, string dev = "eth0", string? proto = null) => new(IpPrefix.Parse(dst), via, dev, proto);

    [Fact]
    public void PushedPublicRoute_ViaLanGateway_IsNamed()
    {
        var warnings = RouteHijackDetector.Find([Route("203.0.113.0/24", "10.200.0.1", proto: "dhcp")], "sluice0", gateClosed: true);
        var w = Assert.Single(warnings);
        Assert.Contains("route 203.0.113.0/24 via 10.200.0.1 dev eth0 proto dhcp", w);
        Assert.Contains("TunnelVision", w);
        Assert.Contains("the gate drops held traffic to it", w);
    }

    [Fact]
    public void PublicLocalNetwork_IsNamed()
    {
        var w = Assert.Single(RouteHijackDetector.Find([Route("198.51.100.0/24", null, proto: "kernel")], "sluice0", gateClosed: false));
        Assert.Contains("the local network 198.51.100.0/24 on eth0", w);
        Assert.Contains("LocalNet", w);
        Assert.Contains("no gate holds it", w);
    }

    [Fact]
    public void OrdinaryRoutes_AreQuiet()
    {
        var routes = new[]
        {
            Route("10.200.0.0/24", null, proto: "kernel"),
            Route("192.168.1.0/24", "10.200.0.1"),
            Route("fd00:200::/64", null),
            Route("fe80::/64", null),
            Route("2001:db8:1::/64", null, proto: "ra"), // a global IPv6 prefix on the link is normal
            Route("0.0.0.0/0", "10.200.0.1"),
            Route("203.0.113.0/24", null, dev: "sluice0"),
        };
        Assert.Empty(RouteHijackDetector.Find(routes, "sluice0", gateClosed: true));
    }
}
