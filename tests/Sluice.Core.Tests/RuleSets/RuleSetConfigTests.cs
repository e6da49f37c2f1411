using Sluice.Core.Configuration;
using Sluice.Core.RuleSets;

namespace Sluice.Core.Tests.RuleSets;

public class RuleSetConfigTests
{
    [Fact]
    public void RemoteSet_TakesItsFormatFromTheUrl_AndUpdatesDaily()
    {
        var config = ConfigLoader.Load("""
            { "route": { "rule_set": [ { "type": "remote", "tag": "g", "url": "https://example.test/sets/geosite-cn.srs" } ],
                         "rules": [ { "rule_set": "g", "outbound": "direct" } ] } }
            """);
        var set = Assert.IsType<RemoteRuleSetOptions>(Assert.Single(config.Route.RuleSets));
        Assert.Equal(RuleSetFormat.Binary, set.Format);
        Assert.Equal(TimeSpan.FromDays(1), set.UpdateInterval);
        Assert.Null(set.DownloadDetour);
    }

    [Theory]
    [InlineData("""{"route":{"rule_set":[{"type":"remote","tag":"g","url":"https://x.test/set"}]}}""", "route.rule_set[0].format", "cannot be told from the name")]
    [InlineData("""{"route":{"rule_set":[{"type":"remote","tag":"g","url":"ftp://x.test/a.srs"}]}}""", "route.rule_set[0].url", "not an http:// or https:// URL")]
    [InlineData("""{"route":{"rule_set":[{"type":"remote","tag":"g","url":"https://x.test/a.srs","download_detour":"nope"}]}}""", "route.rule_set[0].download_detour", "no outbound has tag \"nope\"")]
    [InlineData("""{"route":{"rule_set":[{"type":"local","tag":"g"}]}}""", "route.rule_set[0].path", "required")]
    [InlineData("""{"route":{"rule_set":[{"type":"inline","tag":"a","rules":[]},{"type":"inline","tag":"a","rules":[]}]}}""", "route.rule_set[1].tag", "already has tag")]
    [InlineData("""{"route":{"rule_set":[{"type":"inline","tag":"a","rules":[{"domain":"x","outbound":"direct"}]}]}}""", "route.rule_set[0].rules[0].outbound", "have no action: the route or DNS rule")]
    [InlineData("""{"route":{"rule_set":[{"type":"inline","tag":"a","rules":[{}]}]}}""", "route.rule_set[0].rules[0]", "without any condition")]
    [InlineData("""{"route":{"rules":[{"geosite":"cn","outbound":"direct"}]}}""", "route.rules[0].geosite", "\"rule_set\": [\"geosite-cn\"]")]
    [InlineData("""{"route":{"rules":[{"rule_set":"x","rule_set_ipcidr_match_source":true,"outbound":"direct"}]}}""", "route.rules[0].rule_set_ipcidr_match_source", "write \"rule_set_ip_cidr_match_source\"")]
    [InlineData("""{"dns":{"rules":[{"rule_set":"missing","action":"reject"}]}}""", "dns.rules[0].rule_set", "no rule set has tag")]
    [InlineData("""{"inbounds":[{"type":"tun","address":"172.19.0.1/30","route_address_set":"missing"}]}""", "inbounds[0].route_address_set", "no rule set has tag")]
    [InlineData("""{"inbounds":[{"type":"tun","address":"172.19.0.1/30","sniff":true}]}""", "inbounds[0].sniff", "\"action\": \"sniff\"")]
    [InlineData("""{"inbounds":[{"type":"tun","inet4_address":"172.19.0.1/30"}]}""", "inbounds[0].inet4_address", "merged into \"address\"")]
    [InlineData("""{"route":{"rules":[{"clash_mode":"","outbound":"direct"}]}}""", "route.rules[0].clash_mode", "must not be empty")]
    public void BrokenRuleSetConfig_NamesThePath(string json, string path, string phrase)
    {
        var errors = ConfigLoader.Validate(json);
        Assert.Contains(errors, e => e.Path == path && e.Message.Contains(phrase, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("system")]
    [InlineData("gvisor")]
    [InlineData("mixed")]
    public void EveryStackName_IsAccepted(string stack)
    {
        var config = ConfigLoader.Load($$"""{"inbounds":[{"type":"tun","address":"172.19.0.1/30","stack":"{{stack}}"}]}""");
        Assert.Equal(stack, config.TunInbounds[0].Stack);
    }

    [Fact]
    public void SourceFile_MissingVersion_IsRefused()
    {
        var e = Assert.Throws<RuleSetFormatException>(() => SourceRuleSet.Read("""{ "rules": [ { "domain": "a" } ] }"""));
        Assert.Contains("version: required", e.Message);
    }
}
