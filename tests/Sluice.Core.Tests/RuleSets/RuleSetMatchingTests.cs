using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Core.Configuration;
using Sluice.Core.Outbounds;
using Sluice.Core.Routing;
using Sluice.Core.RuleSets;
using Sluice.Core.RuleSets.Srs;
using Sluice.Packets;

namespace Sluice.Core.Tests.RuleSets;

public class RuleSetMatchingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-ruleset-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static (Router Router, RuleSetLibrary Library, ClashModeState Mode) Compile(string ruleSets, string rules, string? cacheDir = null)
    {
        var config = ConfigLoader.Load($$"""
            {
              "inbounds": [ { "type": "tun", "tag": "tun-in", "address": "172.19.0.1/30" } ],
              "outbounds": [ { "type": "direct", "tag": "direct" }, { "type": "direct", "tag": "proxy" } ],
              "route": { "rule_set": {{ruleSets}}, "rules": {{rules}}, "final": "direct" }
            }
            """);
        var library = RuleSetLibrary.For(config);
        library.Load(_ => throw new InvalidOperationException("no remote sets here"), "direct", null, cacheDir ?? Path.GetTempPath(), NullLogger.Instance, TimeProvider.System);
        var mode = new ClashModeState("rule");
        var router = Router.Compile(config.Route, config.Outbounds.Select(o => o.Tag).ToArray(), config.DefaultOutbound, new RuleScope(library.Handles, mode));
        return (router, library, mode);
    }

    internal static FlowContext Flow(string destination = "93.184.216.34", string? domain = null, string source = "172.19.0.1", ushort port = 443) =>
        new(new FlowKey(IpProtocol.Tcp, NetAddress.Parse(source), 40000, NetAddress.Parse(destination), port), "tun-in", null) { Domain = domain };

    [Fact]
    public void InlineSet_SendsListedNamesAndAddresses_ToTheRulesOutbound()
    {
        var (router, library, _) = Compile("""
            [{ "tag": "ads", "type": "inline", "rules": [ { "domain_suffix": ["example.org"] }, { "ip_cidr": ["198.51.100.0/24"] } ] }]
            """, """[{ "rule_set": "ads", "outbound": "proxy" }]""");
        using (library)
        {
            Assert.Equal("proxy", router.Decide(Flow(domain: "www.example.org")).Outbound);
            Assert.Equal("proxy", router.Decide(Flow(domain: "EXAMPLE.org.")).Outbound);
            Assert.Equal("direct", router.Decide(Flow(domain: "badexample.org")).Outbound);
            Assert.Equal("proxy", router.Decide(Flow(destination: "198.51.100.7")).Outbound);
            Assert.Equal("direct", router.Decide(Flow(destination: "198.51.101.7")).Outbound);
        }
    }

    [Fact]
    public void MatchSource_TestsTheSetsCidrs_AgainstTheSourceAddress()
    {
        var (router, library, _) = Compile("""
            [{ "tag": "lan", "type": "inline", "rules": [ { "ip_cidr": ["10.9.0.0/16"] } ] }]
            """, """[{ "rule_set": ["lan"], "rule_set_ip_cidr_match_source": true, "outbound": "proxy" }]""");
        using (library)
        {
            Assert.Equal("proxy", router.Decide(Flow(source: "10.9.1.2")).Outbound);
            Assert.Equal("direct", router.Decide(Flow(destination: "10.9.1.2")).Outbound);
        }
    }

    [Fact]
    public void RuleSet_IsMergedWithTheRulesOwnDestinations_AndAndedWithItsPort()
    {
        var (router, library, _) = Compile("""
            [{ "tag": "s", "type": "inline", "rules": [ { "domain": ["a.test"] } ] }]
            """, """[{ "rule_set": "s", "domain": ["b.test"], "port": 443, "outbound": "proxy" }]""");
        using (library)
        {
            Assert.Equal("proxy", router.Decide(Flow(domain: "a.test")).Outbound);
            Assert.Equal("proxy", router.Decide(Flow(domain: "b.test")).Outbound);
            Assert.Equal("direct", router.Decide(Flow(domain: "a.test", port: 80)).Outbound);
        }
    }

    [Fact]
    public void LocalBinarySet_IsReadAgain_WhenTheFileChanges()
    {
        string path = Path.Combine(_dir, "set.srs");
        File.WriteAllBytes(path, SrsWriter.Write(new RuleSetContent(2, [new DefaultHeadlessRule { DomainSuffix = ["one.test"] }])));
        var (router, library, _) = Compile($$"""[{ "tag": "s", "type": "local", "path": "{{path}}" }]""", """[{ "rule_set": "s", "outbound": "proxy" }]""");
        using (library)
        {
            Assert.Equal("proxy", router.Decide(Flow(domain: "x.one.test")).Outbound);
            File.WriteAllBytes(path, SrsWriter.Write(new RuleSetContent(2, [new DefaultHeadlessRule { DomainSuffix = ["two.test"] }])));
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddSeconds(5));
            var deadline = DateTime.UtcNow.AddSeconds(15);
            while (router.Decide(Flow(domain: "x.two.test")).Outbound != "proxy" && DateTime.UtcNow < deadline) Thread.Sleep(100);
            Assert.Equal("proxy", router.Decide(Flow(domain: "x.two.test")).Outbound);
            Assert.Equal("direct", router.Decide(Flow(domain: "x.one.test")).Outbound);
        }
    }

    [Fact]
    public void LocalSet_ThatDoesNotParse_StopsTheLoad_NamingTheSetAndFile()
    {
        string path = Path.Combine(_dir, "bad.json");
        File.WriteAllText(path, """{ "version": 2, "rules": [ { "ip_cidr": ["300.1.1.1/8"] } ] }""");
        var e = Assert.Throws<RuleSetLoadException>(() => Compile($$"""[{ "tag": "bad", "type": "local", "path": "{{path}}" }]""", """[{ "rule_set": "bad", "outbound": "proxy" }]"""));
        Assert.Contains("\"bad\"", e.Message);
        Assert.Contains("bad.json", e.Message);
        Assert.Contains("rules[0].ip_cidr[0]", e.Message);
    }

    [Fact]
    public void ClashMode_Rules_FollowTheSwitch_ForTheNextFlow()
    {
        var (router, library, mode) = Compile("[]", """
            [{ "clash_mode": "Global", "outbound": "proxy" }, { "clash_mode": "direct", "outbound": "direct" }, { "domain": "a.test", "outbound": "proxy" }]
            """);
        using (library)
        {
            var known = new ClashModeState("rule") { Known = ["rule", "Global", "direct"] };
            Assert.Equal("direct", router.Decide(Flow(domain: "b.test")).Outbound);
            Assert.True(mode.TrySet("Global"));
            Assert.Equal("proxy", router.Decide(Flow(domain: "b.test")).Outbound);
            Assert.True(mode.TrySet("DIRECT"));
            Assert.Equal("direct", router.Decide(Flow(domain: "a.test")).Outbound);
            Assert.False(known.TrySet("turbo"));
        }
    }

    [Fact]
    public void MobileOnlyItems_NeverMatchOnLinux()
    {
        var (router, library, _) = Compile("""
            [{ "tag": "m", "type": "inline", "rules": [ { "domain": ["a.test"], "wifi_ssid": "home" } ] }]
            """, """[{ "rule_set": "m", "outbound": "proxy" }]""");
        using (library) Assert.Equal("direct", router.Decide(Flow(domain: "a.test")).Outbound);
    }
}
