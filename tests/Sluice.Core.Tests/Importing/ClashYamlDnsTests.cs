using System.Text.Json.Nodes;
using Sluice.Core.Configuration;
using Sluice.Core.Importing;

namespace Sluice.Core.Tests.Importing;

/// <summary>
/// A mihomo profile's dns, hosts and tun.dns-hijack, as phone and desktop clients export them: imported as Sluice's
/// DNS instead of dropped (a fake-ip profile whose DNS vanished would send every lookup raw through the final proxy).
/// </summary>
public sealed class ClashYamlDnsTests
{
    private const string Profile = """
        mixed-port: 7890
        hosts:
          router.lan: 192.168.1.1
          nas.lan: [192.168.1.5, fd00::5]
          "+.dev.test": 127.0.0.1
        tun:
          enable: true
          stack: mixed
          dns-hijack: ["any:53", "tcp://any:53"]
          auto-route: true
        dns:
          enable: true
          listen: 0.0.0.0:1053
          ipv6: false
          enhanced-mode: fake-ip
          fake-ip-range: 198.18.0.1/16
          fake-ip-filter: ["*.lan", "+.local", "geosite:private"]
          default-nameserver: [223.5.5.5, 119.29.29.29]
          nameserver: ["https://dns.alidns.com/dns-query", "https://doh.pub/dns-query"]
          proxy-server-nameserver: ["tls://223.5.5.5:853"]
          fallback: ["tls://8.8.4.4"]
          nameserver-policy:
            "geosite:cn,private": "https://doh.pub/dns-query"
            "+.corp.example,intranet.example": [192.168.1.53]
            "+.google.com": "https://1.1.1.1/dns-query#Proxy"
        proxies:
          - {name: hk, type: ss, server: 192.0.2.1, port: 8388, cipher: aes-128-gcm, password: pw}
        proxy-groups:
          - {name: Proxy, type: select, proxies: [hk, DIRECT]}
        rules:
          - MATCH,Proxy
        """;

    [Fact]
    public void FakeIpProfile_ImportsItsDns_HostsAndHijack_AndTheConfigLoads()
    {
        var result = ClashYaml.ParseConfig(Profile, "p.yaml");
        var config = JsonNode.Parse(result.Json)!.AsObject();
        var dns = config["dns"]!.AsObject();
        var servers = dns["servers"]!.AsArray().Select(s => s!.AsObject()).ToList();
        JsonObject Server(string tag) => servers.Single(s => (string?)s["tag"] == tag);

        Assert.NotNull(ConfigLoader.Load(result.Json));
        // Every lookup on the host reaches the built-in DNS: the hijack rules come right after nothing but sniffing.
        Assert.Equal("""{"port":53,"action":"hijack-dns"}""", config["route"]!["rules"]![0]!.ToJsonString());
        // The first nameserver answers what no rule takes; its host name is resolved by default-nameserver.
        var final = Server((string)dns["final"]!);
        Assert.Equal("https", (string?)final["type"]);
        Assert.Equal("dns.alidns.com", (string?)final["server"]);
        Assert.Equal("223.5.5.5", (string?)Server((string)final["domain_resolver"]!)["server"]);
        // proxy-server-nameserver resolves the proxies' names.
        var proxyResolver = Server((string)config["route"]!["default_domain_resolver"]!);
        Assert.Equal(("tls", "223.5.5.5", 853), ((string?)proxyResolver["type"], (string?)proxyResolver["server"], (int?)proxyResolver["server_port"]));
        Assert.Equal("ipv4_only", (string?)dns["strategy"]);

        var rules = dns["rules"]!.AsArray().Select(r => r!.AsObject()).ToList();
        // hosts first (exact names only; the wildcard is a note), then fake addresses for A/AAAA except the filter's names.
        Assert.Equal("""{"domain":["router.lan","nas.lan"],"server":"hosts"}""", rules[0].ToJsonString());
        Assert.Equal("""["192.168.1.5","fd00::5"]""", Server("hosts")["predefined"]!["nas.lan"]!.ToJsonString());
        Assert.Equal("fakeip", (string?)rules[1]["server"]);
        Assert.Equal("198.18.0.0/16", (string?)Server("fakeip")["inet4_range"]);
        var filter = rules[1]["rules"]![1]!.AsObject();
        Assert.True((bool)filter["invert"]!);
        Assert.Equal("local", (string?)filter["domain_suffix"]);
        Assert.Equal("""["geosite-private"]""", filter["rule_set"]!.ToJsonString());
        // nameserver-policy in order: geosite lists, names and suffixes, and a server reached through a group.
        Assert.Equal("""["geosite-cn","geosite-private"]""", rules[2]["rule_set"]!.ToJsonString());
        Assert.Equal("doh.pub", (string?)Server((string)rules[2]["server"]!)["server"]);
        Assert.Equal("corp.example", (string?)rules[3]["domain_suffix"]);
        Assert.Equal("intranet.example", (string?)rules[3]["domain"]);
        Assert.Equal("192.168.1.53", (string?)Server((string)rules[3]["server"]!)["server"]);
        Assert.Equal("Proxy", (string?)Server((string)rules[4]["server"]!)["detour"]);
        Assert.Contains(config["route"]!["rule_set"]!.AsArray(), s => (string?)s!["tag"] == "geosite-private");

        Assert.Contains(result.Notes, n => n.Contains("hosts \"+.dev.test\" skipped", StringComparison.Ordinal));
        Assert.Contains(result.Notes, n => n.Contains("dns.fallback: not carried over", StringComparison.Ordinal));
        Assert.Contains(result.Notes, n => n.Contains("dns.listen: not carried over", StringComparison.Ordinal));
        Assert.Contains(result.Notes, n => n.Contains("dns.nameserver: only the first server is asked", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("nameserver: [\"quic://dns.adguard.com\"]", "dns.nameserver: \"quic://dns.adguard.com\" not carried over: scheme quic:// is not supported by Sluice")]
    [InlineData("nameserver: [\"https://1.1.1.1/dns-query#Nowhere\"]", "its proxy \"Nowhere\" is not an imported proxy or group")]
    public void NameserverSluiceCannotAsk_LeavesTheDnsOut_WithANote(string nameserver, string expected)
    {
        string yaml = $"""
            dns:
              enable: true
              {nameserver}
            proxies:
              - {"{"}name: hk, type: ss, server: 192.0.2.1, port: 8388, cipher: aes-128-gcm, password: pw{"}"}
            """;

        var result = ClashYaml.ParseConfig(yaml, "p.yaml");

        Assert.Null(JsonNode.Parse(result.Json)!["dns"]);
        Assert.Contains(result.Notes, n => n.Contains(expected, StringComparison.Ordinal));
        Assert.Contains(result.Notes, n => n.Contains("no usable nameserver", StringComparison.Ordinal));
    }

    [Fact]
    public void DnsDisabled_ImportsNoDnsSection()
    {
        var result = ClashYaml.ParseConfig(Profile.Replace("  enable: true\n  listen", "  enable: false\n  listen", StringComparison.Ordinal), "p.yaml");

        Assert.Null(JsonNode.Parse(result.Json)!["dns"]);
    }
}
