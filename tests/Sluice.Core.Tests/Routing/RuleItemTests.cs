using Sluice.Core.Configuration;
using Sluice.Core.Flows;
using Sluice.Core.Routing;
using Sluice.Packets;

namespace Sluice.Core.Tests.Routing;

/// <summary>ip_version, source_ip_is_private, user, and the network-identity items Sluice cannot know.</summary>
public class RuleItemTests
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

    private static FlowContext Flow(string source, string destination, ProcessInfo? process = null) =>
        new(new FlowKey(IpProtocol.Tcp, NetAddress.Parse(source), 40000, NetAddress.Parse(destination), 443), "tun-in", _ => process);

    [Fact]
    public void IpVersion_MatchesTheFlowsFamily()
    {
        var router = Compile("""[ { "ip_version": 6, "outbound": "proxy" } ]""");
        Assert.Equal("proxy", router.Decide(Flow("fd00::2", "2001:db8::1")).Outbound);
        Assert.Equal("direct", router.Decide(Flow("10.0.0.2", "192.0.2.1")).Outbound);
        var four = Compile("""[ { "ip_version": 4, "outbound": "proxy" } ]""");
        Assert.Equal("proxy", four.Decide(Flow("10.0.0.2", "192.0.2.1")).Outbound);
        Assert.Equal("direct", four.Decide(Flow("fd00::2", "2001:db8::1")).Outbound);
    }

    [Theory]
    [InlineData("192.168.1.5", "proxy")]
    [InlineData("10.1.2.3", "proxy")]
    [InlineData("fd12::5", "proxy")]
    [InlineData("100.64.0.1", "proxy")] // the same list as ip_is_private, CGNAT included
    [InlineData("198.51.100.7", "direct")]
    public void SourceIpIsPrivate_LooksAtTheSource(string source, string expected)
    {
        var router = Compile("""[ { "source_ip_is_private": true, "outbound": "proxy" } ]""");
        Assert.Equal(expected, router.Decide(Flow(source, "8.8.8.8")).Outbound);
    }

    [Fact]
    public void SourceIpIsPrivate_IsOrEdWithSourceIpCidr_AsOneGroup()
    {
        var router = Compile("""[ { "source_ip_cidr": "198.51.100.0/24", "source_ip_is_private": true, "outbound": "proxy" } ]""");
        Assert.Equal("proxy", router.Decide(Flow("198.51.100.7", "8.8.8.8")).Outbound);
        Assert.Equal("proxy", router.Decide(Flow("192.168.0.9", "8.8.8.8")).Outbound);
        Assert.Equal("direct", router.Decide(Flow("203.0.113.1", "8.8.8.8")).Outbound);
    }

    [Fact]
    public void User_MatchesTheSocketOwnersName_AndNeverAnUnnamedUid()
    {
        var router = Compile("""[ { "user": ["alice", "bob"], "outbound": "proxy" } ]""");
        Assert.Equal("proxy", router.Decide(Flow("10.0.0.2", "8.8.8.8", new ProcessInfo(1000, 5, "curl", "/usr/bin/curl") { UserName = "bob" })).Outbound);
        Assert.Equal("direct", router.Decide(Flow("10.0.0.2", "8.8.8.8", new ProcessInfo(1001, 5, "curl", "/usr/bin/curl") { UserName = "carol" })).Outbound);
        Assert.Equal("direct", router.Decide(Flow("10.0.0.2", "8.8.8.8", new ProcessInfo(1002, 5, "curl", "/usr/bin/curl"))).Outbound);
        Assert.Equal("direct", router.Decide(Flow("10.0.0.2", "8.8.8.8")).Outbound);
        Assert.True(router.UsesProcess);
    }

    [Fact]
    public void NewItems_AreDescribedForLogs()
    {
        var router = Compile("""[ { "ip_version": 6, "source_ip_is_private": true, "user": "alice", "outbound": "proxy" } ]""");
        Assert.Equal("ip_version=6 source_ip_is_private user=[alice] => proxy", router.Describe()[0]);
    }

    [Theory]
    [InlineData("""{"ip_version": 5, "outbound": "direct"}""", "route.rules[0].ip_version", "not an IP version")]
    [InlineData("""{"ip_version": "6", "outbound": "direct"}""", "route.rules[0].ip_version", "expected a number")]
    [InlineData("""{"source_ip_is_private": "yes", "outbound": "direct"}""", "route.rules[0].source_ip_is_private", "expected")]
    [InlineData("""{"user": ["alice", ""], "outbound": "direct"}""", "route.rules[0].user[1]", "must not be empty")]
    [InlineData("""{"wifi_ssid": "home", "outbound": "direct"}""", "route.rules[0].wifi_ssid", "cannot be known here")]
    [InlineData("""{"wifi_bssid": "00:11:22:33:44:55", "outbound": "direct"}""", "route.rules[0].wifi_bssid", "cannot be known here")]
    [InlineData("""{"network_type": ["wifi"], "outbound": "direct"}""", "route.rules[0].network_type", "cannot be known here")]
    public void BadOrUnknowableItem_NamesThePath(string rule, string path, string phrase)
    {
        var errors = ConfigLoader.Validate("{\"route\":{\"rules\":[" + rule + "]}}");
        Assert.Contains(errors, e => e.Path == path && e.Message.Contains(phrase, StringComparison.Ordinal));
    }
}
