using Sluice.Core.Configuration;
using Sluice.Core.Importing;
using Sluice.Core.Outbounds.WireGuard;
using Sluice.Core.RuleSets;

namespace Sluice.Core.Tests.Importing;

public sealed class ClashYamlTests
{
    // Shaped like what providers hand out (mixed types, quoted names, flow mappings, extra sections).
    private const string Provider = """
        port: 7890
        socks-port: 7891
        allow-lan: false
        mode: rule
        log-level: info
        proxies:
          - name: "🇯🇵 Tokyo 01"
            type: ss
            server: jp1.example.net
            port: 8388
            cipher: aes-256-gcm
            password: "k3y/with:colon"
            udp: true
          - {name: HK-02, server: 198.51.100.22, port: 443, type: ss, cipher: chacha20-ietf-poly1305, password: p2}
          - name: office-socks
            type: socks5
            server: 203.0.113.5
            port: 1080
            username: alice
            password: s3cret
          - name: plain-http
            type: http
            server: proxy.example.org
            port: 3128
          - name: tuic-sg
            type: tuic
            server: sg.example.net
            port: 443
            uuid: 0b5c3a1e-9d1f-4a7a-8b0a-1c2d3e4f5a6b
            alterId: 0
            cipher: auto
          - name: obfs-us
            type: ss
            server: us.example.net
            port: 8388
            cipher: aes-128-gcm
            password: p3
            plugin: obfs
            plugin-opts: {mode: tls, host: bing.com}
          - name: kcp-eu
            type: ss
            server: eu.example.net
            port: 8388
            cipher: aes-128-gcm
            password: p5
            plugin: kcptun
          - name: HK-02
            type: ss
            server: 198.51.100.23
            port: 443
            cipher: aes-128-gcm
            password: p4
        proxy-groups:
          - name: Proxy
            type: select
            proxies: ["🇯🇵 Tokyo 01", HK-02]
        rules:
          - MATCH,Proxy
        """;

    [Fact]
    public void SsSocksHttp_BecomeOutbounds_WithTheirFields()
    {
        var result = ClashYaml.Parse(Provider, "clash.yaml");

        Assert.Equal(["🇯🇵 Tokyo 01", "HK-02", "office-socks", "plain-http", "obfs-us", "HK-02-2"], result.Outbounds.Select(o => (string)o["tag"]!));
        var tokyo = result.Outbounds[0];
        Assert.Equal("shadowsocks", (string?)tokyo["type"]);
        Assert.Equal("jp1.example.net", (string?)tokyo["server"]);
        Assert.Equal(8388, (int)tokyo["server_port"]!);
        Assert.Equal("aes-256-gcm", (string?)tokyo["method"]);
        Assert.Equal("k3y/with:colon", (string?)tokyo["password"]);
        Assert.Equal("chacha20-ietf-poly1305", (string?)result.Outbounds[1]["method"]);
        var socks = result.Outbounds[2];
        Assert.Equal("socks", (string?)socks["type"]);
        Assert.Equal("alice", (string?)socks["username"]);
        Assert.Equal("s3cret", (string?)socks["password"]);
        Assert.Equal("http", (string?)result.Outbounds[3]["type"]);
        Assert.Null(result.Outbounds[3]["username"]);
        Assert.Equal("obfs-local", (string?)result.Outbounds[4]["plugin"]);
        Assert.Equal("obfs=tls;obfs-host=bing.com", (string?)result.Outbounds[4]["plugin_opts"]);
    }

    [Fact]
    public void OtherTypesAndPlugins_AreSkipped_WithOneLineNoteNamingTheEntry()
    {
        var result = ClashYaml.Parse(Provider, "clash.yaml");

        Assert.Equal(2, result.Notes.Count);
        Assert.Contains(result.Notes, n => n.Contains("\"tuic-sg\"") && n.Contains("type \"tuic\" is not imported") && n.Contains("line 25"));
        Assert.Contains(result.Notes, n => n.Contains("\"kcp-eu\"") && n.Contains("plugin \"kcptun\" is not built into Sluice"));
        Assert.All(result.Notes, n => Assert.DoesNotContain('\n', n));
    }

    [Fact]
    public void RenderedConfig_HasSelectorGroupOverTheServers_AndPassesTheConfigLoader()
    {
        var result = ClashYaml.Parse(Provider, "clash.yaml");
        string json = SubscriptionBody.RenderConfig(result.Outbounds, groupType: "selector");

        var config = Sluice.Core.Configuration.ConfigLoader.Load(json);
        var group = Assert.IsType<Sluice.Core.Configuration.GroupOutboundOptions>(config.Outbounds.Single(o => o.Tag == "proxy"));
        Assert.Equal("selector", group.GroupType);
        Assert.Equal(6, group.Members.Count);
        Assert.Equal("proxy", config.DefaultOutbound);
    }

    [Fact]
    public void MalformedYaml_IsOneLineErrorNamingTheLine()
    {
        const string broken = """
            proxies:
              - name: a
                type: ss
                server: [unclosed
                port: 1
            """;

        var e = Assert.Throws<ImportException>(() => ClashYaml.Parse(broken, "bad.yaml"));

        Assert.StartsWith("bad.yaml: line 4: not valid YAML", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void BadIndentation_NamesTheLine()
    {
        var e = Assert.Throws<ImportException>(() => ClashYaml.Parse("proxies:\n  - name: a\n    type: ss\n   server: b\n", "ind.yaml"));

        Assert.StartsWith("ind.yaml: line 4: not valid YAML", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void ProxiesNotAList_NamesItsLine()
    {
        var e = Assert.Throws<ImportException>(() => ClashYaml.Parse("mode: rule\nproxies: nope\n", "x.yaml"));

        Assert.Equal("x.yaml: line 2: \"proxies:\" is not a list", e.Message);
    }

    [Fact]
    public void OnlyUnsupportedEntries_IsAnError()
    {
        var e = Assert.Throws<ImportException>(() => ClashYaml.Parse("proxies:\n  - {name: t, type: trojan, server: a.b, port: 443}\n", "x.yaml"));

        Assert.Contains("no usable proxy", e.Message);
        Assert.Contains("\"t\"", e.Message);
    }

    [Fact]
    public void ParseAny_TakesClashYaml_AndShareLinks()
    {
        Assert.Equal(6, SubscriptionBody.ParseAny(Provider, "p").Outbounds.Count);
        Assert.Single(SubscriptionBody.ParseAny("ss://aes-128-gcm:pw@192.0.2.1:8388#one\n", "p").Outbounds);
        Assert.Throws<ImportException>(() => SubscriptionBody.ParseAny("<html>502 Bad Gateway</html>", "p"));
    }
    /// <summary>100,000 levels of flow sequences: refused with the line, before a recursive parse overflows the stack.</summary>
    [Fact]
    public void DeeplyNestedYaml_IsRefusedBeforeParsing_NotAStackOverflow()
    {
        string nested = "proxies:\n  - " + new string('[', 100_000) + new string(']', 100_000) + "\n";
        var e = Assert.Throws<ImportException>(() => ClashYaml.Parse(nested, "deep.yaml"));
        Assert.Contains("deep.yaml: line 2: nested deeper than 64 levels", e.Message);
    }

    [Fact]
    public void OversizedYaml_IsRefusedBeforeParsing()
    {
        string big = "proxies:\n" + new string('#', ClashYaml.MaxChars) + "\n";
        var e = Assert.Throws<ImportException>(() => ClashYaml.Parse(big, "big.yaml"));
        Assert.Contains("read up to", e.Message);
    }

    /// <summary>`sluice import` of a whole Clash config: groups, rules and the proxy port come along; what cannot is a note with its line.</summary>
    [Fact]
    public void WholeConfig_GroupsRulesAndPort_BecomeAConfigThatPasses_AndEveryPartLeftOutIsNoted()
    {
        const string yaml = """
            mixed-port: 7890
            proxies:
              - {name: hk, type: ss, server: hk.example, port: 8388, cipher: aes-128-gcm, password: pw}
              - {name: jp, type: trojan, server: jp.example, port: 443, password: pw, sni: jp.example}
              - {name: vm, type: tuic, server: vm.example, port: 443, uuid: b831381d-6324-4d53-ad4f-8cda48b30811}
            proxy-groups:
              - {name: Proxy, type: select, proxies: [Auto, hk, vm, DIRECT]}
              - {name: Auto, type: url-test, proxies: [hk, jp], url: "http://cp.example/generate_204", interval: 300, tolerance: 50}
              - {name: LB, type: load-balance, proxies: [hk, jp]}
              - {name: OnlyVm, type: select, proxies: [vm]}
              - {name: Chain, type: relay, proxies: [hk, jp]}
            rules:
              - DOMAIN-SUFFIX,ads.example,REJECT
              - DOMAIN,api.example,Auto
              - DOMAIN-KEYWORD,video,LB
              - IP-CIDR,10.0.0.0/8,DIRECT,no-resolve
              - DST-PORT,6000-6100,Proxy
              - PROCESS-NAME,curl,hk
              - GEOIP,LAN,DIRECT
              - GEOSITE,cn,DIRECT
              - RULE-SET,private,DIRECT
              - DOMAIN,vm.example,OnlyVm
              - MATCH,Proxy
            """;

        var result = ClashYaml.ParseConfig(yaml, "clash.yaml");

        Assert.Empty(ConfigLoader.Validate(result.Json));
        var config = ConfigLoader.Load(result.Json);
        var proxy = Assert.IsType<GroupOutboundOptions>(config.Outbounds.Single(o => o.Tag == "Proxy"));
        Assert.Equal("selector", proxy.GroupType);
        Assert.Equal(["Auto", "hk", "direct"], proxy.Members);
        var auto = Assert.IsType<GroupOutboundOptions>(config.Outbounds.Single(o => o.Tag == "Auto"));
        Assert.Equal(("urltest", TimeSpan.FromMinutes(5)), (auto.GroupType, auto.Interval));
        Assert.Equal("urltest", Assert.IsType<GroupOutboundOptions>(config.Outbounds.Single(o => o.Tag == "LB")).GroupType);
        Assert.DoesNotContain(config.Outbounds, o => o.Tag is "OnlyVm");
        // The relay hk → jp is jp's server dialed through hk.
        Assert.Equal("hk", Assert.IsType<Sluice.Core.Outbounds.Trojan.TrojanOutboundOptions>(config.Outbounds.Single(o => o.Tag == "Chain")).Server.Detour);
        Assert.Equal("Proxy", config.Route.Final);
        Assert.Equal(8, config.Route.Rules.Count);
        Assert.IsType<RejectAction>(config.Route.Rules[0].Action);
        Assert.Equal(["geosite-cn"], config.Route.RuleSets.Select(s => s.Tag));
        Assert.Equal((ushort)7890, Assert.Single(config.MixedInbounds).ListenPort);

        string notes = string.Join("\n", result.Notes);
        Assert.Contains("line 5: \"vm\" skipped", notes);
        Assert.Contains("member \"vm\" left out", notes);
        Assert.Contains("group \"LB\" is load-balance, imported as url-test", notes);
        Assert.Contains("group \"OnlyVm\" skipped: none of its members was imported", notes);
        Assert.Contains("line 21: \"RULE-SET,private,DIRECT\" skipped: \"private\" is not an imported rule provider", notes);
        Assert.Contains("line 22: \"DOMAIN,vm.example,OnlyVm\" skipped: target \"OnlyVm\"", notes);
    }

    /// <summary>mihomo's interface-name and routing-mark (the device and mark of its own sockets) become route.default_interface and route.default_mark.</summary>
    [Theory]
    [InlineData("interface-name: wlan0\nrouting-mark: 6666\n", "wlan0", 6666u)]
    [InlineData("routing-mark: 0\n", null, null)]
    [InlineData("", null, null)]
    public void InterfaceNameAndRoutingMark_BecomeTheRoutesDefaults(string top, string? device, uint? mark)
    {
        string yaml = top + "proxies:\n  - {name: hk, type: ss, server: hk.example, port: 8388, cipher: aes-128-gcm, password: pw}\n";

        var config = ConfigLoader.Load(ClashYaml.ParseConfig(yaml, "clash.yaml").Json);

        Assert.Equal(device, config.Route.DefaultInterface);
        Assert.Equal(mark, config.Route.DefaultMark);
    }

    /// <summary>Clash's AND/OR/NOT rules (nested too) become sing-box logical rules that route what the Clash rule did.</summary>
    [Fact]
    public void LogicalRules_BecomeLogicalRules_ThatMatchTheSameFlows()
    {
        const string yaml = """
            proxies:
              - {name: hk, type: ss, server: hk.example, port: 8388, cipher: aes-128-gcm, password: pw}
            rules:
              - AND,((NETWORK,UDP),(DST-PORT,443)),REJECT
              - OR,((DST-PORT,22),(DOMAIN-SUFFIX,ssh.example)),hk
              - NOT,((IP-CIDR,10.0.0.0/8)),DIRECT
              - AND,((OR,((DOMAIN,a.example),(DOMAIN,b.example))),(NETWORK,TCP)),hk
              - AND,((DOMAIN,c.example),(IP-ASN,13335)),hk
              - OR,(DOMAIN,broken.example),hk
              - MATCH,DIRECT
            """;

        var result = ClashYaml.ParseConfig(yaml, "clash.yaml");

        Assert.Empty(ConfigLoader.Validate(result.Json));
        var config = ConfigLoader.Load(result.Json);
        Assert.Equal(4, config.Route.Rules.Count);
        var router = Sluice.Core.Routing.Router.Compile(config.Route, config.Outbounds.Select(o => o.Tag).ToArray(), config.DefaultOutbound);
        Sluice.Core.Routing.RouteDecision Decide(string ip, ushort port, byte protocol = Sluice.Packets.IpProtocol.Tcp, string? domain = null) =>
            router.Decide(new Sluice.Core.Routing.FlowContext(
                new Sluice.Packets.FlowKey(protocol, Sluice.Packets.NetAddress.Parse("172.19.0.1"), 40000, Sluice.Packets.NetAddress.Parse(ip), port),
                "tun-in", _ => null) { Domain = domain });

        Assert.Equal(Sluice.Core.Routing.Verdict.Reject, Decide("10.1.1.1", 443, Sluice.Packets.IpProtocol.Udp).Verdict); // QUIC refused
        Assert.Equal("hk", Decide("10.1.1.1", 22).Outbound);
        Assert.Equal("hk", Decide("10.1.1.1", 80, domain: "x.ssh.example").Outbound);
        Assert.Equal(2, Decide("93.184.216.34", 80).RuleIndex);                // NOT: outside 10/8
        Assert.Equal("hk", Decide("10.1.1.1", 443, domain: "b.example").Outbound); // nested OR inside AND
        Assert.Equal(-1, Decide("10.1.1.1", 80, domain: "c.example").RuleIndex); // the rule with IP-ASN was left out whole

        string notes = string.Join("\n", result.Notes);
        Assert.Contains("line 8: \"AND,((DOMAIN,c.example),(IP-ASN,13335)),hk\" skipped", notes);
        Assert.Contains("line 9: \"OR,(DOMAIN,broken.example),hk\" skipped", notes);
    }

    /// <summary>rule-providers become rule sets that RULE-SET rules name: inline ones route at once, file ones read the
    /// provider's file in place, http ones are fetched in the provider's format; what cannot be used is noted.</summary>
    [Fact]
    public void RuleProviders_BecomeRuleSets_ThatRouteWhatTheirRulesSay()
    {
        string dir = Directory.CreateTempSubdirectory("sluice-clash-import-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "lan.txt"), "# mine\n192.168.50.0/24\n");
            File.WriteAllBytes(Path.Combine(dir, "cn.mrs"), RuleSets.Mrs.MrsFiles.Encode("ipcidr", ["203.0.113.0/24"]));
            string yaml = """
                proxies:
                  - {name: hk, type: ss, server: hk.example, port: 8388, cipher: aes-128-gcm, password: pw}
                rule-providers:
                  ads:
                    type: inline
                    behavior: domain
                    payload: ['+.ads.test', '*.track.test']
                  lan:
                    type: file
                    behavior: ipcidr
                    format: text
                    path: ./lan.txt
                  remote:
                    type: http
                    behavior: classical
                    url: https://lists.example/remote.yaml
                    interval: 86400
                    proxy: hk
                  packed:
                    type: http
                    behavior: domain
                    format: mrs
                    url: https://lists.example/packed.mrs
                  cnip:
                    type: file
                    behavior: ipcidr
                    format: mrs
                    path: ./cn.mrs
                  odd:
                    type: http
                    behavior: classical
                    format: mrs
                    url: https://lists.example/odd.mrs
                  unused:
                    type: inline
                    behavior: classical
                    payload: ['DOMAIN,unused.test', 'GEOIP,CN']
                rules:
                  - RULE-SET,ads,REJECT
                  - RULE-SET,lan,DIRECT,no-resolve
                  - RULE-SET,remote,hk
                  - RULE-SET,packed,hk
                  - RULE-SET,cnip,DIRECT
                  - RULE-SET,odd,hk
                  - AND,((RULE-SET,ads),(NETWORK,UDP)),hk
                  - MATCH,hk
                """;

            var result = ClashYaml.ParseConfig(yaml, Path.Combine(dir, "config.yaml"));

            Assert.Empty(ConfigLoader.Validate(result.Json));
            var config = ConfigLoader.Load(result.Json);
            Assert.Equal(["ads", "lan", "remote", "packed", "cnip"], config.Route.RuleSets.Select(s => s.Tag));
            var lan = Assert.IsType<LocalRuleSetOptions>(config.Route.RuleSets[1]);
            Assert.Equal((Path.Combine(dir, "lan.txt"), RuleSetFormat.ClashIpCidr), (lan.Path, lan.Format));
            var remote = Assert.IsType<RemoteRuleSetOptions>(config.Route.RuleSets[2]);
            Assert.Equal((RuleSetFormat.ClashClassical, "hk", TimeSpan.FromDays(1)), (remote.Format, remote.DownloadDetour, remote.UpdateInterval));
            var packed = Assert.IsType<RemoteRuleSetOptions>(config.Route.RuleSets[3]);
            Assert.Equal((RuleSetFormat.Mrs, "https://lists.example/packed.mrs"), (packed.Format, packed.Url.ToString()));
            var cnip = Assert.IsType<LocalRuleSetOptions>(config.Route.RuleSets[4]);
            Assert.Equal((Path.Combine(dir, "cn.mrs"), RuleSetFormat.Mrs), (cnip.Path, cnip.Format));
            Assert.Equal(6, config.Route.Rules.Count);

            string notes = string.Join("\n", result.Notes);
            Assert.DoesNotContain("\"packed\" skipped", notes);
            Assert.DoesNotContain("\"cnip\" skipped", notes);
            Assert.Contains("line 29: rule provider \"odd\" skipped: format mrs with behavior classical: mihomo writes .mrs only for behaviors domain and ipcidr", notes);
            Assert.Contains("line 44: \"RULE-SET,odd,hk\" skipped: \"odd\" is not an imported rule provider", notes);

            // The inline and file sets route as the Clash rules did (the remote one is left out of this check: it needs a server).
            using var library = RuleSetLibrary.For(config);
            File.WriteAllText(RuleSetLibrary.CachePath(dir, remote), "DOMAIN,remote.test\n");
            File.WriteAllBytes(RuleSetLibrary.CachePath(dir, packed), RuleSets.Mrs.MrsFiles.Encode("domain", ["+.packed.test"]));
            library.Load(_ => throw new InvalidOperationException("the cached copy is used"), "direct", null, dir, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, TimeProvider.System);
            var router = Sluice.Core.Routing.Router.Compile(config.Route, config.Outbounds.Select(o => o.Tag).ToArray(), config.DefaultOutbound,
                new Sluice.Core.Routing.RuleScope(library.Handles, new Sluice.Core.Routing.ClashModeState("rule")));
            Sluice.Core.Routing.RouteDecision Decide(string ip, string? domain = null) => router.Decide(new Sluice.Core.Routing.FlowContext(
                new Sluice.Packets.FlowKey(Sluice.Packets.IpProtocol.Tcp, Sluice.Packets.NetAddress.Parse("172.19.0.1"), 40000, Sluice.Packets.NetAddress.Parse(ip), 443),
                "tun-in", _ => null) { Domain = domain });
            Assert.Equal(Sluice.Core.Routing.Verdict.Reject, Decide("93.184.216.34", "x.ads.test").Verdict);
            Assert.Equal(Sluice.Core.Routing.Verdict.Reject, Decide("93.184.216.34", "a.track.test").Verdict);
            Assert.Equal("hk", Decide("93.184.216.34", "a.b.track.test").Outbound);
            Assert.Equal("direct", Decide("192.168.50.7").Outbound);
            Assert.Equal(2, Decide("93.184.216.34", "remote.test").RuleIndex);
            Assert.Equal("hk", Decide("93.184.216.34", "packed.test").Outbound);
            Assert.Equal(3, Decide("93.184.216.34", "www.packed.test").RuleIndex);
            Assert.Equal("direct", Decide("203.0.113.9").Outbound);
            Assert.Equal(4, Decide("203.0.113.9").RuleIndex);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
