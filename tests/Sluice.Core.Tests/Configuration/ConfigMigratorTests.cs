using Sluice.Core.Configuration;

namespace Sluice.Core.Tests.Configuration;

public class ConfigMigratorTests
{
    private const string Old = """
        {
          "inbounds": [{"type": "tun", "tag": "tun-in", "inet4_address": "172.19.0.1/30", "inet6_address": "fdfe::1/126", "auto_route": true, "sniff": true}],
          "outbounds": [{"type": "direct", "tag": "direct"}, {"type": "dns", "tag": "dns-out"}],
          "dns": {"servers": [{"tag": "g", "address": "https://1.1.1.1/dns-query"}, {"tag": "l", "address": "local"}, {"tag": "u", "address": "9.9.9.9:5353"}]},
          "route": {"rules": [{"protocol": "dns", "outbound": "dns-out"}, {"geosite": "cn", "source_geoip": ["private"], "outbound": "direct"}]}
        }
        """;

    [Fact]
    public void RemovedFields_AreRefused_ThenFixedIntoAConfigThatPasses()
    {
        Assert.NotEmpty(ConfigLoader.Validate(Old));
        var (json, changes) = ConfigMigrator.Migrate(Old);
        Assert.Empty(ConfigLoader.Validate(json));
        var config = ConfigLoader.Load(json);
        Assert.Equal(["172.19.0.1/30", "fdfe::1/126"], config.TunInbounds[0].Address.Select(a => a.ToString()));
        Assert.Equal(["geosite-cn", "geoip-private"], config.Route.RuleSets.Select(s => s.Tag).Order(StringComparer.Ordinal).Reverse());
        var first = Assert.IsType<DefaultRuleOptions>(config.Route.Rules[0]);
        Assert.IsType<SniffAction>(first.Action);
        Assert.IsType<HijackDnsAction>(config.Route.Rules[1].Action);
        Assert.True(((DefaultRuleOptions)config.Route.Rules[2]).RuleSetIpCidrMatchSource);
        Assert.Equal(["https", "local", "udp"], config.Dns.Servers.Take(3).Select(s => s.Type));
        Assert.Contains(changes, c => c.Contains("dns.servers[2]", StringComparison.Ordinal));
    }
}
