using System.Net;
using Sluice.Core.Configuration;

namespace Sluice.Core.Tests.Configuration;

public class DirectInboundConfigTests
{
    private static string Config(string inbound, string rules = """[{"inbound": "dns-in", "action": "hijack-dns"}]""") =>
        $$$"""{"inbounds": [{"type": "tun", "address": ["172.19.0.1/30"]}, {{{inbound}}}], "route": {"rules": {{{rules}}}}}""";

    private static string Errors(string json) => string.Join("\n", ConfigLoader.Validate(json));

    [Fact]
    public void DirectInbound_Loads_WithDefaults()
    {
        var c = ConfigLoader.Load(Config("""{"type": "direct", "tag": "dns-in", "listen_port": 5353}"""));

        Assert.Equal(new DirectInboundOptions("dns-in", IPAddress.Loopback, 5353, Udp: true, Tcp: true), Assert.Single(c.DirectInbounds));
    }

    [Theory]
    [InlineData("udp", true, false)]
    [InlineData("tcp", false, true)]
    public void Network_PicksOneSide(string network, bool udp, bool tcp)
    {
        var c = ConfigLoader.Load(Config($$"""{"type": "direct", "tag": "dns-in", "listen": "::1", "listen_port": 53, "network": "{{network}}"}"""));

        Assert.Equal(new DirectInboundOptions("dns-in", IPAddress.IPv6Loopback, 53, udp, tcp), Assert.Single(c.DirectInbounds));
    }

    [Fact]
    public void OverrideAddress_IsRefused_WithItsPath()
    {
        string errors = Errors(Config("""{"type": "direct", "tag": "dns-in", "listen_port": 5353, "override_address": "1.1.1.1", "override_port": 53}"""));

        Assert.Contains("inbounds[1].override_address: not supported by Sluice: a direct inbound only serves the built-in DNS server", errors);
        Assert.Contains("inbounds[1].override_port: not supported by Sluice", errors);
    }

    [Fact]
    public void DirectInbound_WithoutAHijackRule_IsRefused()
    {
        string errors = Errors(Config("""{"type": "direct", "tag": "dns-in", "listen_port": 5353}""", """[{"inbound": "tun-in", "action": "hijack-dns"}, {"inbound": "dns-in", "outbound": "direct"}]"""));

        Assert.Equal("inbounds[1]: no route rule hands this inbound's queries to the DNS server; add {\"inbound\": \"dns-in\", \"action\": \"hijack-dns\"} to route.rules", errors);
    }

    [Theory]
    [InlineData("""[{"port": 53, "action": "hijack-dns"}]""")]
    [InlineData("""[{"action": "sniff"}, {"protocol": "dns", "action": "hijack-dns"}]""")]
    [InlineData("""[{"inbound": ["tun-in", "dns-in"], "action": "hijack-dns"}]""")]
    public void HijackRulesThatCanMatchTheListener_AreEnough(string rules)
    {
        Assert.Equal("", Errors(Config("""{"type": "direct", "tag": "dns-in", "listen_port": 5353}""", rules)));
    }

    [Theory]
    [InlineData(""" "listen": "localhost", "listen_port": 53 """, "inbounds[1].listen: \"localhost\" is not an IP address (e.g. \"127.0.0.1\")")]
    [InlineData(""" "listen_port": 0 """, "inbounds[1].listen_port:")]
    [InlineData(""" "network": "udp" """, "inbounds[1].listen_port: required (1..65535), e.g. 5353")]
    [InlineData(""" "listen_port": 53, "network": "icmp" """, "inbounds[1].network: unknown network \"icmp\" (expected \"udp\" or \"tcp\"; omit it for both)")]
    [InlineData(""" "listen_port": 53, "sniff": true """, "inbounds[1].sniff: not supported by Sluice")]
    public void BadFields_AreReported_WithTheirPath(string fields, string expected)
    {
        Assert.StartsWith(expected, Errors(Config($$"""{"type": "direct", "tag": "dns-in", {{fields}}}""")));
    }

    [Fact]
    public void DnsRules_MayNameTheListener()
    {
        string json = Config("""{"type": "direct", "tag": "dns-in", "listen_port": 5353}""")
            .Replace("\"route\":", """ "dns": {"servers": [{"type": "local", "tag": "l"}], "rules": [{"inbound": "dns-in", "server": "l"}]}, "route":""");

        Assert.Equal("", Errors(json));
    }

    [Fact]
    public void ListenerOnly_IsAValidConfig()
    {
        var c = ConfigLoader.Load("""{"inbounds": [{"type": "direct", "tag": "dns-in", "listen_port": 5353}], "route": {"rules": [{"inbound": "dns-in", "action": "hijack-dns"}]}}""");

        Assert.Empty(c.TunInbounds);
        Assert.Single(c.DirectInbounds);
    }
}
