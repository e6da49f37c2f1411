using Sluice.Core.Configuration;

namespace Sluice.Core.Tests.Configuration;

public class ConfigMigratorTests
{
    private const string Old = """
        {
          "inbounds": [{"type": "tun", "tag": "tun-in", "inet4_address": "172.19.0.1/30", "inet6_address": "fdfe::1/126", "auto_route": true, "sniff": true}],
          "outbounds": [{"type": "direct", "tag": "direct", "domain_strategy": "prefer_ipv4"}, {"type": "dns", "tag": "dns-out"}],
          "dns": {"servers": [{"tag": "g", "address": "https://1.1.1.1/dns-query"}, {"tag": "l", "address": "local"}, {"tag": "u", "address": "9.9.9.9:5353"}]},
          "route": {"rules": [{"protocol": "dns", "outbound": "dns-out"}, {"geosite": "cn", "source_geoip": ["private"], "outbound": "direct"}],
                    "geoip": {"path": "geoip.db"}, "geosite": {"path": "geosite.db", "download_url": "https://example.org/geosite.db"}}
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
        Assert.Contains(changes, c => c.StartsWith("route.geosite: removed", StringComparison.Ordinal));
    }

    [Fact]
    public void WireGuardOutbounds_AndLookupRulesForOutbounds_AreFixedIntoAConfigThatPasses()
    {
        const string old = """
            {
              "dns": {"servers": [{"tag": "local", "address": "local", "detour": "direct"}, {"tag": "g", "address": "tls://8.8.8.8"}],
                      "rules": [{"outbound": "any", "server": "local"}, {"outbound": ["ss"], "server": "g"}, {"outbound": "any", "domain": "x.org", "server": "g"}]},
              "outbounds": [
                {"type": "wireguard", "tag": "wg", "server": "203.0.113.1", "server_port": 51820, "local_address": ["10.0.0.2/32", "fd00::2/128"],
                 "private_key": "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=", "peer_public_key": "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=", "mtu": 1280},
                {"type": "wireguard", "tag": "wg2", "local_address": "10.1.0.2/32", "private_key": "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=",
                 "peers": [{"server": "wg.example.org", "server_port": 51821, "public_key": "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=", "allowed_ips": ["10.1.0.0/16"]}]},
                {"type": "shadowsocks", "tag": "ss", "server": "ss.example.org", "server_port": 8388, "method": "aes-128-gcm", "password": "p"},
                {"type": "direct", "tag": "direct"}],
              "route": {"rules": [{"ip_cidr": "10.1.0.0/16", "outbound": "wg2"}], "final": "wg"}
            }
            """;
        var (json, changes) = ConfigMigrator.Migrate(old);

        // The rule with another condition stays, refused with its own explanation; the other two are gone.
        var left = Assert.Single(ConfigLoader.Validate(json));
        Assert.Equal("dns.rules[0].outbound", left.Path);
        var config = ConfigLoader.Load(json.Replace("\"outbound\": \"any\",", "", StringComparison.Ordinal));
        var wg = Assert.IsType<WireGuardEndpointOptions>(config.Outbounds.Single(o => o.Tag == "wg"));
        Assert.Equal(["10.0.0.2/32", "fd00::2/128"], wg.Address.Select(a => a.ToString()));
        Assert.Equal(1280, wg.Mtu);
        var peer = Assert.Single(wg.Peers);
        Assert.Equal(("203.0.113.1", 51820), (peer.Host, peer.Port));
        Assert.Equal(["0.0.0.0/0", "::/0"], peer.AllowedIps.Select(a => a.ToString()));
        var wg2 = Assert.IsType<WireGuardEndpointOptions>(config.Outbounds.Single(o => o.Tag == "wg2"));
        Assert.Equal(("wg.example.org", 51821, "10.1.0.0/16"), (wg2.Peers[0].Host, wg2.Peers[0].Port, wg2.Peers[0].AllowedIps.Single().ToString()));
        Assert.Equal("local", config.Dns.DefaultDomainResolver);
        Assert.Equal(2, changes.Count(c => c.Contains("moved to endpoints", StringComparison.Ordinal)));
        Assert.Equal("g", ProxyServerOptions.Of(config.Outbounds.Single(o => o.Tag == "ss"))!.DomainResolver);
    }

    /// <summary>The legacy fake-IP server is {"address": "fakeip"} with its ranges in dns.fakeip: not a udp server at a host named "fakeip".</summary>
    [Fact]
    public void LegacyFakeIpServer_BecomesAFakeIpServer_WithTheRangesOfDnsFakeIp()
    {
        const string old = """
            {"dns": {"servers": [{"tag": "remote", "address": "tls://8.8.8.8"}, {"tag": "fake", "address": "fakeip"}],
                     "rules": [{"query_type": ["A", "AAAA"], "server": "fake"}],
                     "fakeip": {"enabled": true, "inet4_range": "198.18.0.0/15", "inet6_range": "fc00::/18"}, "final": "remote"}}
            """;
        var (json, changes) = ConfigMigrator.Migrate(old);

        Assert.Empty(ConfigLoader.Validate(json));
        var fake = Assert.IsType<Sluice.Core.Dns.FakeIpDnsServerOptions>(ConfigLoader.Load(json).Dns.Servers.Single(s => s.Tag == "fake"));
        Assert.Equal("198.18.0.0/15", fake.Inet4Range?.ToString());
        Assert.Equal("fc00::/18", fake.Inet6Range?.ToString());
        Assert.Contains(changes, c => c.StartsWith("dns.fakeip: removed", StringComparison.Ordinal));
    }

    /// <summary>sing-box 1.12's migration: an rcode:// server becomes a predefined answer of its rules; a server's strategy, its rules'.</summary>
    [Fact]
    public void LegacyRcodeServerAndServerStrategy_BecomeRuleFields()
    {
        const string old = """
            {"dns": {"servers": [{"tag": "g", "address": "8.8.8.8", "strategy": "ipv4_only"}, {"tag": "block", "address": "rcode://success"},
                                 {"tag": "l", "address": "223.5.5.5", "strategy": "prefer_ipv6"}],
                     "rules": [{"domain_suffix": ["ads.example"], "server": "block"}, {"domain_suffix": ["cn.example"], "server": "l"}],
                     "final": "g"}}
            """;
        Assert.NotEmpty(ConfigLoader.Validate(old));
        var (json, changes) = ConfigMigrator.Migrate(old);

        Assert.Empty(ConfigLoader.Validate(json));
        var dns = ConfigLoader.Load(json).Dns;
        Assert.Equal(["g", "l"], dns.Servers.Select(s => s.Tag));
        Assert.Equal(Sluice.Core.Dns.DnsStrategy.Ipv4Only, dns.Strategy);
        var predefined = Assert.IsType<Sluice.Core.Dns.DnsPredefinedAction>(dns.Rules[0].Action);
        Assert.Equal(Sluice.Core.Dns.DnsRcode.NoError, predefined.Rcode);
        Assert.Equal(Sluice.Core.Dns.DnsStrategy.PreferIpv6, Assert.IsType<Sluice.Core.Dns.DnsRouteAction>(dns.Rules[1].Action).Strategy);
        Assert.Contains(changes, c => c.StartsWith("dns.servers[1]: \"address\": \"rcode://success\" removed", StringComparison.Ordinal));
    }
    /// <summary>
    /// A sing-box 1.9 client config as v2rayN and phone apps exported it: the inbounds' domain_strategy and the Clash
    /// API's cache fields. check names what replaced them; --fix writes the replacement, not a silent drop.
    /// </summary>
    private const string Client19 = """
        {
          "inbounds": [
            {"type": "tun", "tag": "tun-in", "address": ["172.19.0.1/30"], "sniff": true, "domain_strategy": "ipv4_only"},
            {"type": "mixed", "tag": "socks", "listen": "127.0.0.1", "listen_port": 10808, "sniff": true, "sniff_override_destination": true, "domain_strategy": "prefer_ipv6"}],
          "outbounds": [{"type": "direct", "tag": "direct"}],
          "experimental": {"clash_api": {"external_controller": "127.0.0.1:9090", "store_selected": true, "store_fakeip": true, "cache_file": "/var/lib/sb/cache.db", "cache_id": "phone"}}
        }
        """;

    [Fact]
    public void InboundDomainStrategy_AndClashApiCacheFields_AreNamed_ThenFixedIntoTheirReplacements()
    {
        var errors = ConfigLoader.Validate(Client19).Select(e => e.ToString()).ToList();
        Assert.Contains(errors, e => e.StartsWith("inbounds[1].sniff: inbound sniffing was replaced by a route rule", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("inbounds[1].domain_strategy: removed from inbounds in sing-box 1.11", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("experimental.clash_api.store_selected: moved to experimental.cache_file in sing-box 1.8", StringComparison.Ordinal));

        var (json, changes) = ConfigMigrator.Migrate(Client19);

        Assert.Empty(ConfigLoader.Validate(json));
        var config = ConfigLoader.Load(json);
        // sniff for each inbound first, then each inbound's strategy as a resolve action, in the inbounds' order.
        Assert.IsType<SniffAction>(config.Route.Rules[0].Action);
        Assert.IsType<SniffAction>(config.Route.Rules[1].Action);
        var tunResolve = Assert.IsType<DefaultRuleOptions>(config.Route.Rules[2]);
        Assert.Equal(["tun-in"], tunResolve.Inbound);
        Assert.Equal(new ResolveAction(null, Sluice.Core.Dns.DnsStrategy.Ipv4Only), tunResolve.Action);
        Assert.Equal(["socks"], ((DefaultRuleOptions)config.Route.Rules[3]).Inbound);
        Assert.Equal(new ResolveAction(null, Sluice.Core.Dns.DnsStrategy.PreferIpv6), config.Route.Rules[3].Action);
        var cache = config.Experimental!.CacheFile!;
        Assert.Equal("/var/lib/sb/cache.db", cache.Path);
        Assert.Equal("phone", cache.CacheId);
        Assert.True(cache.StoreFakeIp);
        Assert.Contains(changes, c => c.StartsWith("inbounds[0].domain_strategy: replaced by a route rule", StringComparison.Ordinal));
        Assert.Contains(changes, c => c.StartsWith("experimental.clash_api.cache_file: moved to experimental.cache_file", StringComparison.Ordinal));
    }
}
