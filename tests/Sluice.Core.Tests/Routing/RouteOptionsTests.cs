using Sluice.Core.Configuration;
using Sluice.Core.Outbounds;
using Sluice.Core.Routing;
using Sluice.Packets;

namespace Sluice.Core.Tests.Routing;

/// <summary>action "route-options": not final; it sets what the flow dials and its UDP timeout.</summary>
public class RouteOptionsTests
{
    private static Router Compile(string rules)
    {
        var config = ConfigLoader.Load($$"""
            {
              "inbounds": [ { "type": "tun", "tag": "tun-in", "address": "172.19.0.1/30" } ],
              "outbounds": [ { "type": "direct", "tag": "direct" }, { "type": "direct", "tag": "proxy" } ],
              "route": { "rules": {{rules}}, "final": "direct" }
            }
            """);
        return Router.Compile(config.Route, config.Outbounds.Select(o => o.Tag).ToArray(), config.DefaultOutbound);
    }

    private static FlowContext Flow(string destination, ushort port = 80, byte protocol = IpProtocol.Tcp) =>
        new(new FlowKey(protocol, NetAddress.Parse("172.19.0.2"), 40000, NetAddress.Parse(destination), port), "tun-in", null);

    [Fact]
    public void RouteOptions_IsNotFinal_TheNextMatchingRuleDecides_AndTheFlowDialsTheOverride()
    {
        var router = Compile("""
            [ { "ip_cidr": "192.0.2.99", "action": "route-options", "override_address": "203.0.113.10", "override_port": 8080 },
              { "ip_cidr": "192.0.2.0/24", "outbound": "proxy" } ]
            """);
        var flow = Flow("192.0.2.99");
        var decision = router.Decide(flow);
        Assert.Equal(("proxy", 1), (decision.Outbound, decision.RuleIndex));
        var dialled = flow.Dialled(new Destination(NetAddress.Parse("192.0.2.99"), 80, "named.example"));
        Assert.Equal(new Destination(NetAddress.Parse("203.0.113.10"), 8080, null), dialled);

        // Another destination is untouched.
        var other = Flow("192.0.2.5");
        Assert.Equal("proxy", router.Decide(other).Outbound);
        Assert.Equal(new Destination(NetAddress.Parse("192.0.2.5"), 80, "x.example"), other.Dialled(new Destination(NetAddress.Parse("192.0.2.5"), 80, "x.example")));
    }

    [Fact]
    public void PortOnlyOverride_KeepsTheName_SoAProxyStillDialsIt()
    {
        var router = Compile("""[ { "port": 80, "action": "route-options", "override_port": 8080 } ]""");
        var flow = Flow("192.0.2.7");
        Assert.Equal(-1, router.Decide(flow).RuleIndex);
        Assert.Equal(new Destination(NetAddress.Parse("192.0.2.7"), 8080, "site.example"), flow.Dialled(new Destination(NetAddress.Parse("192.0.2.7"), 80, "site.example")));
    }

    [Fact]
    public void LaterRouteOptions_OverrideEarlierOnes_FieldByField()
    {
        var router = Compile("""
            [ { "network": "udp", "action": "route-options", "udp_timeout": "30s", "override_port": 5353 },
              { "port": 53, "action": "route-options", "udp_timeout": "2m" } ]
            """);
        var flow = Flow("192.0.2.53", 53, IpProtocol.Udp);
        router.Decide(flow);
        Assert.Equal(TimeSpan.FromMinutes(2), flow.UdpTimeout);
        Assert.Equal((ushort)5353, flow.OverridePort);
    }

    [Fact]
    public void RouteOptions_IsDescribed()
    {
        var router = Compile("""[ { "port": 53, "action": "route-options", "override_address": "10.0.0.53", "udp_timeout": "1m", "udp_connect": true } ]""");
        Assert.Equal("port=[53] => route-options(override_address=10.0.0.53, udp_timeout=1m, udp_connect)", router.Describe()[0]);
    }

    [Theory]
    [InlineData("""{"action":"route-options","override_address":"example.com"}""", "route.rules[0].override_address", "not an IP address")]
    [InlineData("""{"action":"route-options","override_port":0}""", "route.rules[0].override_port", "out of range")]
    [InlineData("""{"action":"route-options","udp_timeout":"0s"}""", "route.rules[0].udp_timeout", "more than 0")]
    [InlineData("""{"action":"route-options"}""", "route.rules[0]", "sets nothing")]
    [InlineData("""{"outbound":"direct","override_port":80}""", "route.rules[0].override_port", "only allowed with \"action\": \"route-options\"")]
    public void BadRouteOptions_NameThePath(string rule, string path, string phrase)
    {
        var errors = ConfigLoader.Validate("{\"route\":{\"rules\":[" + rule + "]}}");
        Assert.Contains(errors, e => e.Path == path && e.Message.Contains(phrase, StringComparison.Ordinal));
    }
}
