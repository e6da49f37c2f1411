using System.Text.Json.Nodes;
using Sluice.Core.Configuration;
using Sluice.Core.Importing;

namespace Sluice.Core.Tests.Importing;

/// <summary>
/// Parts of mihomo profiles that were notes and are now carried over: relay groups, include-all with filters,
/// SUB-RULE lists, DOMAIN-WILDCARD, IN-PORT and IN-TYPE,TUN.
/// </summary>
public sealed class ClashYamlChainsTests
{
    private const string Profile = """
        mixed-port: 7890
        proxies:
          - {name: "entry", type: socks5, server: 192.0.2.1, port: 1080}
          - {name: "HK 01", type: ss, server: 192.0.2.2, port: 8388, cipher: aes-128-gcm, password: pw}
          - {name: "JP 02", type: ss, server: 192.0.2.3, port: 8388, cipher: aes-128-gcm, password: pw}
          - {name: "US web", type: http, server: 192.0.2.4, port: 3128}
        proxy-groups:
          - {name: Pick, type: select, proxies: [Chain, Asia, DIRECT]}
          - {name: Chain, type: relay, proxies: [Pick2, "HK 01", "JP 02"]}
          - {name: Pick2, type: select, proxies: [entry]}
          - {name: Asia, type: url-test, include-all: true, filter: "(?i)hk|jp", exclude-filter: "02"}
          - {name: NoHttp, type: select, include-all-proxies: true, exclude-type: "http|socks5"}
          - {name: Broken, type: relay, proxies: [entry, Asia]}
        rules:
          - IN-PORT,7890,Pick
          - IN-TYPE,TUN,Asia
          - DOMAIN-WILDCARD,*.cdn?.example.net,DIRECT
          - SUB-RULE,(NETWORK,udp),games
          - MATCH,Pick
        sub-rules:
          games:
            - DST-PORT,27015,Chain
            - SUB-RULE,(DOMAIN-SUFFIX,steam.example),inner
            - MATCH,REJECT
          inner:
            - MATCH,DIRECT
        """;

    private static (JsonObject Config, IReadOnlyList<string> Notes) Import()
    {
        var result = ClashYaml.ParseConfig(Profile, "p.yaml");
        Assert.NotNull(ConfigLoader.Load(result.Json));
        return (JsonNode.Parse(result.Json)!.AsObject(), result.Notes);
    }

    private static JsonObject Outbound(JsonObject config, string tag) =>
        config["outbounds"]!.AsArray().Single(o => (string?)o!["tag"] == tag)!.AsObject();

    [Fact]
    public void RelayGroup_BecomesAChainOfDetours_EndingInTheGroupsName()
    {
        var (config, notes) = Import();

        // Chain = Pick2 → HK 01 → JP 02: JP 02's copy is "Chain", dialed through HK 01's copy, dialed through Pick2.
        var last = Outbound(config, "Chain");
        Assert.Equal(("shadowsocks", "192.0.2.3", "Chain (HK 01)"), ((string?)last["type"], (string?)last["server"], (string?)last["detour"]));
        var middle = Outbound(config, "Chain (HK 01)");
        Assert.Equal(("192.0.2.2", "Pick2"), ((string?)middle["server"], (string?)middle["detour"]));
        // The proxies themselves stay as they were.
        Assert.Null(Outbound(config, "JP 02")["detour"]);
        Assert.Contains(notes, n => n.Contains("relay group \"Broken\" skipped: hop \"Asia\" is not an imported proxy", StringComparison.Ordinal));
    }

    [Fact]
    public void IncludeAll_AddsTheProxiesItsFiltersKeep()
    {
        var (config, _) = Import();

        Assert.Equal("""["HK 01"]""", Outbound(config, "Asia")["outbounds"]!.ToJsonString());
        Assert.Equal("""["HK 01","JP 02"]""", Outbound(config, "NoHttp")["outbounds"]!.ToJsonString());
    }

    [Fact]
    public void SubRules_AreFlattenedUnderTheirCondition_InOrder()
    {
        var (config, notes) = Import();
        var rules = config["route"]!["rules"]!.AsArray().Select(r => r!.ToJsonString()).ToList();

        Assert.Equal("""{"inbound":["mixed-in"],"outbound":"Pick"}""", rules[0]);
        Assert.Equal("""{"inbound":["tun-in"],"outbound":"Asia"}""", rules[1]);
        Assert.Equal("""{"domain_regex":"^.*\\.cdn.\\.example\\.net$","outbound":"direct"}""", rules[2]);
        Assert.Equal("""{"type":"logical","mode":"and","rules":[{"network":"udp"},{"port":27015}],"outbound":"Chain"}""", rules[3]);
        Assert.Equal("""{"type":"logical","mode":"and","rules":[{"network":"udp"},{"domain_suffix":"steam.example"}],"outbound":"direct"}""", rules[4]);
        Assert.Equal("""{"network":"udp","action":"reject"}""", rules[5]);
        Assert.Equal(6, rules.Count);
        Assert.Equal("Pick", (string?)config["route"]!["final"]);
        Assert.DoesNotContain(notes, n => n.Contains("SUB-RULE", StringComparison.Ordinal) || n.Contains("IN-PORT", StringComparison.Ordinal));
    }

    [Fact]
    public void SubRuleNamingAMissingList_IsANote()
    {
        var result = ClashYaml.ParseConfig(Profile.Replace("SUB-RULE,(NETWORK,udp),games", "SUB-RULE,(NETWORK,udp),nowhere", StringComparison.Ordinal), "p.yaml");

        Assert.Contains(result.Notes, n => n.Contains("\"SUB-RULE,(NETWORK,udp),nowhere\" skipped: \"nowhere\" is not a list under sub-rules", StringComparison.Ordinal));
    }
}
