using Sluice.Core.Configuration;

namespace Sluice.Core.Tests.Configuration;

/// <summary>
/// Configs as panels and sing-box itself export them: options Sluice does not have, set to their "off" value, run;
/// the same options switched on are refused at their path; an entry refused for its own reason is not reported a
/// second time where it is named; sing-box's "socks" and "http" inbounds are proxy ports of one protocol.
/// </summary>
public sealed class SingBoxExportConfigTests
{
    [Fact]
    public void OptionsSetToTheirOffValue_AreAccepted()
    {
        var errors = ConfigLoader.Validate("""
            {"inbounds": [{"type": "tun", "address": ["172.19.0.1/30"], "platform": {"http_proxy": {"enabled": false, "server": "", "server_port": 0}}}],
             "outbounds": [
               {"type": "trojan", "tag": "t", "server": "203.0.113.1", "server_port": 443, "password": "p", "tls": {"enabled": true},
                "multiplex": {"enabled": false, "protocol": "h2mux", "max_connections": 4}},
               {"type": "shadowsocks", "tag": "s", "server": "203.0.113.2", "server_port": 8388, "method": "aes-128-gcm", "password": "p",
                "udp_over_tcp": false, "multiplex": {}},
               {"type": "direct", "tag": "direct", "tcp_fast_open": false}],
             "route": {"find_process": true, "rule_set": [{"type": "remote", "tag": "ads", "url": "https://example.org/ads.srs", "update_interval": "1d"}]}}
            """);
        Assert.Empty(errors);
    }

    [Fact]
    public void TheSameOptionsSwitchedOn_AreRefusedAtTheirPath()
    {
        var errors = ConfigLoader.Validate("""
            {"outbounds": [
               {"type": "trojan", "tag": "t", "server": "203.0.113.1", "server_port": 443, "password": "p", "tls": {"enabled": true},
                "multiplex": {"enabled": true, "protocol": "h2mux"}},
               {"type": "shadowsocks", "tag": "s", "server": "203.0.113.2", "server_port": 8388, "method": "aes-128-gcm", "password": "p", "udp_over_tcp": true},
               {"type": "direct", "tag": "direct", "tcp_fast_open": true}]}
            """).Select(e => e.ToString()).ToList();
        Assert.Contains("outbounds[0].multiplex: not supported by Sluice yet", errors);
        Assert.Contains("outbounds[1].udp_over_tcp: not supported by Sluice yet", errors);
        Assert.Contains("outbounds[2].tcp_fast_open: not supported by Sluice yet", errors);
    }

    [Fact]
    public void ARefusedOutboundOrRuleSet_IsNotReportedAgainWhereItIsNamed()
    {
        var errors = ConfigLoader.Validate("""
            {"outbounds": [{"type": "selector", "tag": "proxy", "outbounds": ["vm", "direct"]}, {"type": "tuic", "tag": "vm", "server": "203.0.113.1"},
                           {"type": "direct", "tag": "direct"}],
             "route": {"rules": [{"rule_set": "ads", "outbound": "vm"}],
                       "rule_set": [{"type": "remote", "tag": "ads", "url": "https://example.org/ads.srs", "update_interval": "often"}]}}
            """).Select(e => e.ToString()).ToList();
        Assert.Equal(2, errors.Count);
        Assert.StartsWith("outbounds[1].type: outbound type \"tuic\" is not supported", errors[0]);
        Assert.StartsWith("route.rule_set[0].update_interval: \"often\" is not a duration", errors[1]);
    }

    /// <summary>Fields GUI clients write with their empty or default value: an auto-named TUN, a dashboard detour with no download, IPv4 first.</summary>
    [Fact]
    public void EmptyInterfaceName_DashboardDetourWithoutUrl_AndPreferIpv4Resolver_AreAccepted()
    {
        var errors = ConfigLoader.Validate("""
            {"inbounds": [{"type": "tun", "tag": "tun-in", "interface_name": "", "address": ["172.19.0.1/30"]}],
             "outbounds": [{"type": "direct", "tag": "direct", "domain_strategy": "prefer_ipv4"},
                           {"type": "socks", "tag": "s", "server": "192.0.2.9", "server_port": 1080, "domain_strategy": ""}],
             "dns": {"servers": [{"type": "udp", "tag": "local", "server": "192.0.2.53"}]},
             "route": {"rules": [{"inbound": ["tun-in"], "action": "sniff"}], "default_domain_resolver": {"server": "local", "strategy": "prefer_ipv4"}},
             "experimental": {"clash_api": {"external_controller": "127.0.0.1:9090", "external_ui_download_url": "", "external_ui_download_detour": "direct"}}}
            """);
        Assert.Empty(errors);
        Assert.Equal("sluice0", ConfigLoader.Load("""{"inbounds": [{"type": "tun", "interface_name": "", "address": ["172.19.0.1/30"]}]}""").TunInbounds[0].InterfaceName);
    }

    [Fact]
    public void ARefusedInbound_IsNotReportedAgainByTheRulesNamingIt()
    {
        var errors = ConfigLoader.Validate("""
            {"inbounds": [{"type": "tun", "tag": "tun-in", "interface_name": "this-name-is-far-too-long", "address": ["172.19.0.1/30"]}],
             "dns": {"servers": [{"type": "udp", "tag": "local", "server": "192.0.2.53"}]},
             "route": {"rules": [{"inbound": ["tun-in"], "action": "sniff"}], "default_domain_resolver": {"server": "local", "strategy": "ipv6_only"}}}
            """).Select(e => e.ToString()).ToList();
        Assert.StartsWith("inbounds[0].interface_name: \"this-name-is-far-too-long\" is not a valid interface name", Assert.Single(errors));
    }

    [Fact]
    public void DomainResolverStrategies_AreRead_ForProxyServersAndTheDefault_ButNotForADnsServersName()
    {
        var config = ConfigLoader.Load("""
            {"dns": {"servers": [{"type": "udp", "tag": "local", "server": "192.0.2.53"}]},
             "outbounds": [{"type": "socks", "tag": "s", "server": "proxy.example", "server_port": 1080, "domain_resolver": {"server": "local", "strategy": "ipv4_only"}}],
             "route": {"default_domain_resolver": {"server": "local", "strategy": "prefer_ipv6"}}}
            """);
        Assert.Equal(Sluice.Core.Dns.DnsStrategy.Ipv4Only, ProxyServerOptions.Of(config.Outbounds.Single(o => o.Tag == "s"))!.DomainStrategy);
        Assert.Equal(Sluice.Core.Dns.DnsStrategy.PreferIpv6, config.Dns.DefaultDomainStrategy);

        var errors = ConfigLoader.Validate("""
            {"dns": {"servers": [{"type": "udp", "tag": "local", "server": "192.0.2.53"},
                                 {"type": "https", "tag": "doh", "server": "doh.example", "domain_resolver": {"server": "local", "strategy": "ipv6_only"}}]}}
            """).Select(e => e.ToString()).ToList();
        Assert.StartsWith("dns.servers[1].domain_resolver.strategy: not supported by Sluice yet for a DNS server's name", Assert.Single(errors));
    }

    /// <summary>sing-box's deprecated outbound domain_strategy: the proxy's server-name strategy, the direct outbound's dial strategy.</summary>
    [Fact]
    public void LegacyOutboundDomainStrategy_IsTheStrategyForTheNamesItDials()
    {
        var config = ConfigLoader.Load("""
            {"dns": {"servers": [{"type": "udp", "tag": "local", "server": "192.0.2.53"}]},
             "outbounds": [{"type": "direct", "tag": "direct", "domain_strategy": "ipv6_only"},
                           {"type": "socks", "tag": "s", "server": "proxy.example", "server_port": 1080, "domain_strategy": "prefer_ipv6"},
                           {"type": "socks", "tag": "both", "server": "proxy.example", "server_port": 1080, "domain_resolver": {"server": "local", "strategy": "ipv4_only"}, "domain_strategy": "ipv4_only"}]}
            """);
        Assert.Equal(Sluice.Core.Dns.DnsStrategy.Ipv6Only, ((DirectOutboundOptions)config.Outbounds.Single(o => o.Tag == "direct")).DomainStrategy);
        Assert.Equal(Sluice.Core.Dns.DnsStrategy.PreferIpv6, ProxyServerOptions.Of(config.Outbounds.Single(o => o.Tag == "s"))!.DomainStrategy);
        Assert.Equal(Sluice.Core.Dns.DnsStrategy.Ipv4Only, ProxyServerOptions.Of(config.Outbounds.Single(o => o.Tag == "both"))!.DomainStrategy);
        Assert.Null(((DirectOutboundOptions)ConfigLoader.Load("""{"outbounds": [{"type": "direct", "tag": "direct"}]}""").Outbounds[0]).DomainStrategy);

        var errors = ConfigLoader.Validate("""
            {"dns": {"servers": [{"type": "udp", "tag": "local", "server": "192.0.2.53"}]},
             "outbounds": [{"type": "direct", "tag": "direct", "domain_strategy": "ipv6_first"},
                           {"type": "socks", "tag": "s", "server": "proxy.example", "server_port": 1080, "domain_resolver": {"server": "local", "strategy": "ipv4_only"}, "domain_strategy": "ipv6_only"},
                           {"type": "selector", "tag": "g", "outbounds": ["direct"], "domain_strategy": "ipv6_only"},
                           {"type": "block", "tag": "b", "domain_strategy": "prefer_ipv4"}]}
            """).Select(e => e.ToString()).ToList();
        Assert.Equal(3, errors.Count);
        Assert.StartsWith("outbounds[0].domain_strategy: unknown strategy \"ipv6_first\"", errors[0]);
        Assert.Equal("outbounds[1].domain_strategy: \"ipv6_only\" disagrees with domain_resolver.strategy \"ipv4_only\": keep one (domain_strategy is the deprecated form)", errors[1]);
        Assert.Equal("outbounds[2].domain_strategy: \"ipv6_only\" means nothing for a selector outbound, which dials no names itself; remove it", errors[2]);
    }

    [Fact]
    public void ATagNobodyDefined_IsStillReported()
    {
        var errors = ConfigLoader.Validate("""{"outbounds": [{"type": "direct", "tag": "direct"}], "route": {"final": "proxy"}}""");
        Assert.Contains(errors, e => e.Message.StartsWith("no outbound has tag \"proxy\"", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("dns", "replaced by the rule action \"hijack-dns\"")]
    [InlineData("wireguard", "moved to \"endpoints\" in sing-box 1.11")]
    public void RemovedOutboundTypes_SayWhatReplacedThem_AndHowToFix(string type, string expected)
    {
        var error = Assert.Single(ConfigLoader.Validate($$"""{"outbounds": [{"type": "{{type}}", "tag": "x"}, {"type": "direct", "tag": "direct"}]}"""));
        Assert.Equal("outbounds[0].type", error.Path);
        Assert.Contains(expected, error.Message);
        Assert.Contains("sluice check --fix", error.Message);
    }

    [Theory]
    [InlineData("socks", ProxyProtocols.Socks)]
    [InlineData("http", ProxyProtocols.Http)]
    [InlineData("mixed", ProxyProtocols.Socks | ProxyProtocols.Http)]
    public void SocksAndHttpInbounds_AreProxyPortsOfTheirProtocol(string type, ProxyProtocols protocols)
    {
        var config = ConfigLoader.Load($$$"""{"inbounds": [{"type": "{{{type}}}", "listen_port": 1080}], "outbounds": [{"type": "direct"}], "route": {"rules": [{"inbound": "{{{type}}}-in", "outbound": "direct"}]}}""");
        var inbound = Assert.Single(config.MixedInbounds);
        Assert.Equal(protocols, inbound.Protocols);
        Assert.Equal($"{type}-in", inbound.Tag);
    }

    [Fact]
    public void AnHttpInboundServingTls_IsRefused()
    {
        var error = Assert.Single(ConfigLoader.Validate("""{"inbounds": [{"type": "http", "listen_port": 8080, "tls": {"enabled": true, "certificate_path": "c.pem"}}]}"""));
        Assert.Equal("inbounds[0].tls", error.Path);
    }

    [Fact]
    public void TheTunsUdpTimeout_IsRead()
    {
        var config = ConfigLoader.Load("""{"inbounds": [{"type": "tun", "address": ["172.19.0.1/30"], "udp_timeout": "5m"}]}""");
        Assert.Equal(TimeSpan.FromMinutes(5), config.TunInbounds[0].UdpTimeout);
        Assert.Equal("inbounds[0].udp_timeout", Assert.Single(ConfigLoader.Validate("""{"inbounds": [{"type": "tun", "address": ["172.19.0.1/30"], "udp_timeout": "0s"}]}""")).Path);
    }

    [Theory]
    [InlineData("[1, 2, 3]", new byte[] { 1, 2, 3 })]
    [InlineData("\"AQID\"", new byte[] { 1, 2, 3 })]
    [InlineData("[0, 0, 0]", null)]
    public void AWireGuardPeersReservedBytes_AreRead_AsNumbersOrBase64(string json, byte[]? expected)
    {
        var config = ConfigLoader.Load($$"""
            {"endpoints": [{"type": "wireguard", "tag": "warp", "address": ["172.16.0.2/32"], "private_key": "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=",
              "peers": [{"address": "203.0.113.1", "port": 2408, "public_key": "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=", "allowed_ips": ["0.0.0.0/0"], "reserved": {{json}}}]}]}
            """);
        Assert.Equal(expected, Assert.IsType<WireGuardEndpointOptions>(config.Outbounds.Single(o => o.Tag == "warp")).Peers[0].Reserved);
    }

    [Theory]
    [InlineData("[1, 2, 300]", "endpoints[0].peers[0].reserved[2]")]
    [InlineData("[1, 2]", "endpoints[0].peers[0].reserved")]
    [InlineData("\"AQIDBA==\"", "endpoints[0].peers[0].reserved")]
    public void ABadReserved_IsRefusedAtItsPath(string json, string path)
    {
        var errors = ConfigLoader.Validate($$"""
            {"endpoints": [{"type": "wireguard", "tag": "warp", "address": ["172.16.0.2/32"], "private_key": "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=",
              "peers": [{"address": "203.0.113.1", "port": 2408, "public_key": "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=", "allowed_ips": ["0.0.0.0/0"], "reserved": {{json}}}]}]}
            """);
        Assert.Equal(path, errors[0].Path);
    }

    /// <summary>sing-box 1.12's dial fields that only tune the socket (keep-alive, source-port choice) are read, not refused.</summary>
    [Fact]
    public void KeepAliveAndBindAddressNoPortDialFields_AreAcceptedOnProxiesAndDirect()
    {
        var errors = ConfigLoader.Validate("""
            {"outbounds": [
               {"type": "trojan", "tag": "t", "server": "203.0.113.1", "server_port": 443, "password": "p", "tls": {"enabled": true},
                "tcp_keep_alive": "5m", "tcp_keep_alive_interval": "75s", "disable_tcp_keep_alive": false, "bind_address_no_port": true},
               {"type": "direct", "tag": "direct", "tcp_keep_alive": "10m", "disable_tcp_keep_alive": true, "netns": ""}]}
            """);
        Assert.Empty(errors);
        var bad = ConfigLoader.Validate("""
            {"outbounds": [{"type": "direct", "tag": "direct", "tcp_keep_alive": "soon", "netns": "/run/netns/vpn"}]}
            """).Select(e => e.ToString()).ToList();
        Assert.Contains("outbounds[0].netns: not supported by Sluice yet", bad);
        Assert.Contains(bad, e => e.StartsWith("outbounds[0].tcp_keep_alive: \"soon\" is not a duration", StringComparison.Ordinal));
    }

    /// <summary>Exporters write {} or {"type": ""} for a plain-TCP outbound; sing-box reads either as no transport.</summary>
    [Fact]
    public void AnEmptyTransportObject_MeansNoTransport()
    {
        var config = ConfigLoader.Load("""
            {"outbounds": [
               {"type": "trojan", "tag": "a", "server": "203.0.113.1", "server_port": 443, "password": "p", "tls": {"enabled": true}, "transport": {}},
               {"type": "vless", "tag": "b", "server": "203.0.113.2", "server_port": 443, "uuid": "bf000d23-0752-40b4-affe-68f7707a9661",
                "tls": {"enabled": true}, "transport": {"type": "", "path": ""}}]}
            """);
        Assert.Null(Assert.IsType<Sluice.Core.Outbounds.Trojan.TrojanOutboundOptions>(config.Outbounds[0]).Transport);
        Assert.Null(Assert.IsType<Sluice.Core.Outbounds.Vless.VlessOutboundOptions>(config.Outbounds[1]).Transport);
        var errors = ConfigLoader.Validate("""
            {"outbounds": [{"type": "trojan", "tag": "a", "server": "203.0.113.1", "server_port": 443, "password": "p", "tls": {"enabled": true},
                            "transport": {"path": "/ws"}}]}
            """).Select(e => e.ToString()).ToList();
        Assert.Contains("outbounds[0].transport.type: required (\"ws\", \"httpupgrade\", \"http\", \"grpc\")", errors);
    }

    [Fact]
    public void TlsCurvePreferences_AreAcceptedEmpty_AndRefusedWhenSet()
    {
        const string Outbound = """{"outbounds": [{"type": "trojan", "tag": "t", "server": "203.0.113.1", "server_port": 443, "password": "p", "tls": {"enabled": true, "curve_preferences": CURVES}}]}""";
        Assert.Empty(ConfigLoader.Validate(Outbound.Replace("CURVES", "[]", StringComparison.Ordinal)));
        Assert.Contains("outbounds[0].tls.curve_preferences: not supported by Sluice yet",
            ConfigLoader.Validate(Outbound.Replace("CURVES", "[\"x25519\"]", StringComparison.Ordinal)).Select(e => e.ToString()));
    }

    /// <summary>Zero values and spellings sing-box reads as absent or equal, in configs as clients export them.</summary>
    [Fact]
    public void ZeroValuesAndSingBoxSpellings_OfDnsEndpointLogRouteAndInbounds_AreAccepted()
    {
        var errors = ConfigLoader.Validate("""
            {"log": {"level": "warning"},
             "inbounds": [{"type": "tun", "address": ["172.19.0.1/30"], "loopback_address": []},
                          {"type": "mixed", "listen_port": 2080, "reuse_addr": false, "netns": "", "tcp_keep_alive": "5m"}],
             "endpoints": [{"type": "wireguard", "tag": "wg", "address": ["10.0.0.2/32"], "private_key": "YNXtAzepDqRv9H52osJVDQnznT5AL11/mHuG5/D/8n4=",
                            "domain_strategy": "", "peers": [{"address": "203.0.113.1", "port": 51820, "public_key": "Z1XXLsKYkYxuiYjJIkRvtIKFepCYHTgON+GwPq7SOV4=",
                            "pre_shared_key": "", "allowed_ips": ["0.0.0.0/0"]}]}],
             "dns": {"servers": [{"type": "udp", "tag": "u", "server": "192.0.2.53", "client_subnet": ""}], "client_subnet": ""},
             "route": {"override_android_vpn": true, "rules": [{"action": "route", "outbound": "wg", "udp_connect": false, "override_port": 0}]}}
            """);
        Assert.Empty(errors);
        var config = ConfigLoader.Load("""{"log": {"level": "warning"}}""");
        Assert.Equal("warn", config.Log.Level);
        var bad = ConfigLoader.Validate("""
            {"inbounds": [{"type": "tun", "address": ["172.19.0.1/30"], "loopback_address": ["10.7.0.1"]}],
             "route": {"rules": [{"action": "route", "outbound": "direct", "udp_connect": true}]}}
            """).Select(e => e.ToString()).ToList();
        Assert.Contains("inbounds[0].loopback_address: not supported by Sluice", bad);
        Assert.Contains("route.rules[0].udp_connect: only allowed with \"action\": \"route-options\", this rule's action is \"route\"", bad);
    }

    [Fact]
    public void CertificateSectionNamingTheSystemStore_IsAccepted_AnyOtherStoreIsNot()
    {
        Assert.Empty(ConfigLoader.Validate("""{"certificate": {"store": "system", "certificate": [], "certificate_path": []}}"""));
        Assert.Contains("certificate: not supported yet", ConfigLoader.Validate("""{"certificate": {"store": "mozilla"}}""").Select(e => e.ToString()));
        Assert.Contains("certificate: not supported yet", ConfigLoader.Validate("""{"certificate": {"store": "system", "certificate_path": ["/etc/ca.pem"]}}""").Select(e => e.ToString()));
    }
}
