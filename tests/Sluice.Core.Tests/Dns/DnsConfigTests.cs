using Sluice.Core.Configuration;
using Sluice.Core.Dns;
using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Core.Tests.Dns;

public class DnsConfigTests
{
    private const string Config = """
        {
          "inbounds": [{ "type": "tun", "tag": "tun-in", "address": ["172.19.0.1/30"] }],
          "endpoints": [{ "type": "wireguard", "tag": "wg", "address": ["10.7.0.2/32"], "private_key": "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=",
                          "peers": [{ "address": "192.0.2.1", "port": 51820, "public_key": "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=", "allowed_ips": "0.0.0.0/0" }] }],
          "dns": {
            "servers": [
              { "type": "local", "tag": "local" },
              { "type": "https", "tag": "doh", "server": "dns.example", "domain_resolver": "local", "detour": "wg", "path": "/q", "tls": { "server_name": "dns.example" } },
              { "type": "tls", "tag": "dot", "server": "192.0.2.53", "domain_resolver": { "server": "local" } },
              { "type": "udp", "tag": "plain", "server": "192.0.2.54", "server_port": 5353 },
              { "type": "tcp", "server": "2001:db8::53" },
              { "type": "fakeip", "tag": "fake", "inet4_range": "198.18.0.0/15", "inet6_range": "fc00::/18" },
              { "type": "hosts", "tag": "hosts", "predefined": { "router.lan": ["192.168.1.1", "fd00::1"], "nas.lan": "192.168.1.2" } },
            ],
            "rules": [
              { "domain_suffix": "lan", "server": "hosts" },
              { "process_name": ["firefox"], "user_id": 1000, "action": "route", "server": "doh", "strategy": "ipv4_only", "disable_cache": true },
              { "query_type": ["HTTPS", 65, "SVCB"], "action": "reject" },
              { "domain_keyword": "ads", "action": "reject", "method": "drop" },
              { "domain": "blocked.example", "action": "predefined", "rcode": "NXDOMAIN" },
              { "domain_regex": "^local\\.", "action": "predefined", "answer": ["local.example. IN A 127.0.0.1"] },
              { "type": "logical", "mode": "or", "rules": [{ "inbound": "tun-in" }, { "process_path": "/usr/bin/curl" }], "invert": true, "server": "plain" },
            ],
            "final": "dot",
            "strategy": "prefer_ipv4",
            "disable_cache": false,
            "independent_cache": true,
            "cache_capacity": 4096,
            "reverse_mapping": true,
            "timeout": "2s",
          },
          "route": { "default_domain_resolver": "local", "final": "wg" },
        }
        """;

    [Fact]
    public void DnsSection_Loads_EveryField()
    {
        var c = ConfigLoader.Load(Config);
        var dns = c.Dns;
        Assert.Equal(7, dns.Servers.Count);
        Assert.Equal(new LocalDnsServerOptions("local"), dns.Servers[0]);
        Assert.Equal(new RemoteDnsServerOptions("https", "doh", "dns.example", 443, "/q", "wg", "local", new DnsTlsOptions("dns.example", false, null)), dns.Servers[1]);
        Assert.Equal(new RemoteDnsServerOptions("tls", "dot", "192.0.2.53", 853, null, null, "local", null), dns.Servers[2]);
        Assert.Equal(new RemoteDnsServerOptions("udp", "plain", "192.0.2.54", 5353, null, null, null, null), dns.Servers[3]);
        Assert.Equal(new RemoteDnsServerOptions("tcp", "tcp", "2001:db8::53", 53, null, null, null, null), dns.Servers[4]);
        Assert.Equal(new FakeIpDnsServerOptions("fake", IpPrefix.Parse("198.18.0.0/15"), IpPrefix.Parse("fc00::/18")), dns.Servers[5]);
        var hosts = Assert.IsType<HostsDnsServerOptions>(dns.Servers[6]);
        Assert.Equal([NetAddress.Parse("192.168.1.1"), NetAddress.Parse("fd00::1")], hosts.Predefined["router.lan"]);
        Assert.Empty(hosts.Paths);

        Assert.Equal(7, dns.Rules.Count);
        Assert.Equal(new DnsRouteAction("hosts"), dns.Rules[0].Action);
        var process = Assert.IsType<DefaultDnsRuleOptions>(dns.Rules[1]);
        Assert.Equal(["firefox"], process.ProcessName);
        Assert.Equal([1000u], process.UserId);
        Assert.Equal(new DnsRouteAction("doh", DnsStrategy.Ipv4Only, true), process.Action);
        Assert.Equal([DnsType.HTTPS, DnsType.HTTPS, DnsType.SVCB], ((DefaultDnsRuleOptions)dns.Rules[2]).QueryType);
        Assert.Equal(new DnsRejectAction(true), dns.Rules[3].Action);
        Assert.Equal(DnsRcode.NxDomain, Assert.IsType<DnsPredefinedAction>(dns.Rules[4].Action).Rcode);
        Assert.Equal(["local.example. IN A 127.0.0.1"], Assert.IsType<DnsPredefinedAction>(dns.Rules[5].Action).Answer);
        var logical = Assert.IsType<LogicalDnsRuleOptions>(dns.Rules[6]);
        Assert.True(logical.Invert);
        Assert.Equal(LogicalMode.Or, logical.Mode);

        Assert.Equal("dot", dns.Final);
        Assert.Equal(DnsStrategy.PreferIpv4, dns.Strategy);
        Assert.Equal(4096, dns.CacheCapacity);
        Assert.Equal(TimeSpan.FromSeconds(2), dns.Timeout);
        Assert.Equal("local", dns.DefaultDomainResolver);
        Assert.Equal("local", c.Route.DefaultDomainResolver);
    }

    [Fact]
    public void NoDnsSection_GivesTheDefaults()
    {
        var dns = ConfigLoader.Load("""{ "outbounds": [{ "type": "direct" }] }""").Dns;
        Assert.Same(DnsOptions.Empty, dns);
        Assert.Empty(dns.Servers);
        Assert.Equal(TimeSpan.FromSeconds(5), dns.Timeout);
        Assert.True(dns.ReverseMapping);
    }

    [Theory]
    [InlineData("""{ "dns": { "servers": [{ "type": "udp" }] } }""", "dns.servers[0].server: required: the server's address or host name")]
    [InlineData("""{ "dns": { "servers": [{ "address": "https://1.1.1.1/dns-query" }] } }""", "dns.servers[0].address: legacy DNS server syntax")]
    [InlineData("""{ "dns": { "servers": [{ "type": "quic", "server": "1.1.1.1" }] } }""", "dns.servers[0].type: DNS server type \"quic\" is not supported by Sluice yet")]
    [InlineData("""{ "dns": { "servers": [{ "type": "carrier-pigeon" }] } }""", "dns.servers[0].type: unknown DNS server type \"carrier-pigeon\"")]
    [InlineData("""{ "dns": { "servers": [{ "type": "udp", "server": "1.1.1.1", "detour": "proxy" }] } }""", "dns.servers[0].detour: no outbound has tag \"proxy\"")]
    [InlineData("""{ "dns": { "servers": [{ "type": "udp", "server": "a b" }] } }""", "dns.servers[0].server: \"a b\" is neither an IP address nor a host name")]
    [InlineData("""{ "dns": { "servers": [{ "type": "udp", "tag": "x", "server": "dns.example", "domain_resolver": "x" }] } }""", "dns.servers[0].domain_resolver: a server cannot resolve its own name")]
    [InlineData("""{ "dns": { "servers": [{ "type": "udp", "server": "1.1.1.1", "server_port": 70000 }] } }""", "dns.servers[0].server_port: 70000 is out of range (1..65535)")]
    [InlineData("""{ "dns": { "servers": [{ "type": "fakeip", "inet4_range": "fc00::/18" }] } }""", "dns.servers[0].inet4_range: \"fc00::/18\" is not an IPv4 range")]
    [InlineData("""{ "dns": { "servers": [{ "type": "udp", "server": "1.1.1.1", "bind_interface": "eth0" }] } }""", "dns.servers[0].bind_interface: not supported by Sluice yet")]
    [InlineData("""{ "dns": { "servers": [{ "type": "local" }, { "type": "local" }] } }""", "dns.servers[1].tag: duplicate tag \"local\"")]
    [InlineData("""{ "dns": { "servers": [{ "type": "local" }], "final": "nope" } }""", "dns.final: no DNS server has tag \"nope\" (servers: local)")]
    [InlineData("""{ "dns": { "servers": [{ "type": "local" }], "rules": [{ "domain": "a", "server": "nope" }] } }""", "dns.rules[0].server: no DNS server has tag \"nope\"")]
    [InlineData("""{ "dns": { "rules": [{ "domain": "a" }] } }""", "dns.rules[0]: missing \"server\"")]
    [InlineData("""{ "dns": { "rules": [{ "query_type": "BOGUS", "action": "reject" }] } }""", "dns.rules[0].query_type: unknown query type \"BOGUS\"")]
    [InlineData("""{ "dns": { "rules": [{ "source_port": 53, "action": "reject" }] } }""", "dns.rules[0].source_port: not supported by Sluice yet")]
    [InlineData("""{ "dns": { "rules": [{ "action": "reject", "rcode": "NXDOMAIN" }] } }""", "dns.rules[0].rcode: only allowed with \"action\": \"predefined\"")]
    [InlineData("""{ "dns": { "rules": [{ "action": "predefined", "answer": "x. IN MX 10 y." }] } }""", "dns.rules[0].answer: \"x. IN MX 10 y.\": record type \"MX\" is not supported")]
    [InlineData("""{ "dns": { "rules": [{ "action": "predefined", "rcode": "OOPS" }] } }""", "dns.rules[0].rcode: unknown rcode \"OOPS\"")]
    [InlineData("""{ "dns": { "rules": [{ "type": "logical", "mode": "and", "rules": [{ "domain": "a", "action": "reject" }], "action": "reject" }] } }""", "dns.rules[0].rules[0].action: rules inside a logical rule have no action")]
    [InlineData("""{ "dns": { "rules": [{ "type": "logical", "mode": "xor", "rules": [{ "domain": "a" }], "action": "reject" }] } }""", "dns.rules[0].mode: unknown mode \"xor\"")]
    [InlineData("""{ "dns": { "rules": [{ "type": "logical", "rules": [{ "domain": "a" }], "action": "reject" }] } }""", "dns.rules[0].mode: required for a logical rule")]
    [InlineData("""{ "dns": { "rules": [{ "type": "logical", "mode": "or", "rules": [], "action": "reject" }] } }""", "dns.rules[0].rules: must not be empty")]
    [InlineData("""{ "dns": { "rules": [{ "type": "sometimes", "action": "reject" }] } }""", "dns.rules[0].type: unknown rule type \"sometimes\"")]
    [InlineData("""{ "dns": { "strategy": "ipv5_only" } }""", "dns.strategy: unknown strategy \"ipv5_only\"")]
    [InlineData("""{ "dns": { "timeout": "soon" } }""", "dns.timeout: \"soon\" is not a duration")]
    [InlineData("""{ "dns": { "servers": [{ "type": "local" }] }, "route": { "default_domain_resolver": "missing" } }""", "route.default_domain_resolver: no DNS server has tag \"missing\"")]
    [InlineData("""{ "dns": { "servers": [{ "type": "fakeip" }] }, "route": { "default_domain_resolver": "fakeip" } }""", "route.default_domain_resolver: \"fakeip\" is a fakeip server")]
    public void InvalidDnsConfig_IsReported_WithItsPath(string json, string expected)
    {
        var errors = ConfigLoader.Validate(json);
        Assert.Contains(errors, e => e.ToString().StartsWith(expected, StringComparison.Ordinal));
    }
}
