using System.Text.Json.Nodes;
using Sluice.Core.Configuration;
using Sluice.Core.Importing;
using Sluice.Core.RuleSets;

namespace Sluice.Core.Tests.Configuration;

/// <summary>
/// The compatibility corpus (Configuration/clients/): configs and profiles of the shape clients export — a sing-box
/// 1.12 phone config (tun + mixed, DNS rules with fakeip, selector/urltest, remote rule sets, clash_api, cache_file), a
/// sing-box 1.9 config as v2rayN wrote them, a mihomo profile (every supported proxy type and group type, rule
/// providers, logical rules, SUB-RULE, dns with fake-ip and nameserver-policy, hosts, sniffer, tun). Each must load,
/// or be fixed by check --fix, or name exactly what it cannot carry.
/// </summary>
public sealed class ClientCorpusTests
{
    private static string Fixture(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Configuration", "clients", name));

    [Fact]
    public void SingBox112PhoneConfig_LoadsAsWritten()
    {
        var config = ConfigLoader.Load(Fixture("sing-box-1.12-phone.json"));

        Assert.Equal("proxy", config.Route.Final);
        Assert.Equal(["tun-in"], config.TunInbounds.Select(t => t.Tag));
        Assert.Equal("mixed-in", Assert.Single(config.MixedInbounds).Tag);
        Assert.Equal(["remote", "cn", "fakeip", "local"], config.Dns.Servers.Select(s => s.Tag));
        Assert.Equal(3, config.Route.RuleSets.Count);
        Assert.NotNull(config.Experimental?.CacheFile);
    }

    [Fact]
    public void SingBox19V2rayNConfig_IsNamedByCheck_AndFixedButForTheOneRuleLeftToTheUser()
    {
        string old = Fixture("sing-box-1.9-v2rayn.json");
        var before = ConfigLoader.Validate(old).Select(e => e.ToString()).ToList();
        Assert.Contains(before, e => e.StartsWith("inbounds[1].domain_strategy: removed from inbounds in sing-box 1.11", StringComparison.Ordinal));
        Assert.Contains(before, e => e.StartsWith("experimental.clash_api.cache_file: moved to experimental.cache_file", StringComparison.Ordinal));
        Assert.Contains(before, e => e.StartsWith("dns.fakeip: the legacy fakeip block (before sing-box 1.12)", StringComparison.Ordinal));
        // Every error names what replaced the field (all of it is sing-box's own, and --fix rewrites it): none is
        // "unknown field" or "not supported".
        Assert.DoesNotContain(before, e => e.Contains("unknown field", StringComparison.Ordinal) || e.Contains("not supported", StringComparison.Ordinal));

        var (fixedJson, changes) = ConfigMigrator.Migrate(old);

        // {"outbound": "any", "server": …, "disable_cache": true}: default_domain_resolver has no disable_cache in
        // Sluice, and dropping it would change how proxy names are resolved, so the rule is left, named.
        var after = ConfigLoader.Validate(fixedJson).Select(e => e.ToString()).ToList();
        Assert.StartsWith("dns.rules[0].outbound: matching the outbound a lookup is for was replaced in sing-box 1.12", Assert.Single(after));
        var route = JsonNode.Parse(fixedJson)!["route"]!["rules"]!.AsArray();
        Assert.Equal("""{"inbound":"tun-in","action":"resolve","strategy":"ipv4_only"}""", route[2]!.ToJsonString());
        Assert.Equal("""{"inbound":"socks","action":"resolve","strategy":"prefer_ipv4"}""", route[3]!.ToJsonString());
        Assert.Contains(changes, c => c.StartsWith("experimental.clash_api.store_selected: moved", StringComparison.Ordinal));
    }

    [Fact]
    public void MihomoProfile_ImportsEverythingSluiceCanCarry_AndNamesTheRest()
    {
        var result = ClashYaml.ParseConfig(Fixture("mihomo-profile.yaml"), "profile.yaml");
        var config = ConfigLoader.Load(result.Json);

        Assert.Equal("wg", Assert.Single(config.Outbounds.OfType<WireGuardEndpointOptions>()).Tag);
        Assert.Contains(config.Outbounds, o => o.Tag == "Chain");
        Assert.Contains(config.Dns.Servers, s => s.Type == "fakeip");
        Assert.Equal("Proxy", config.Route.Final);
        // the mrs provider (MetaCubeX's geosite, mihomo's binary format) is a rule set its RULE-SET rule names
        var geosite = Assert.IsType<RemoteRuleSetOptions>(Assert.Single(config.Route.RuleSets, s => s.Tag == "geosite-cn"));
        Assert.Equal(RuleSetFormat.Mrs, geosite.Format);
        Assert.Contains(config.Route.Rules, r => r is DefaultRuleOptions d && d.RuleSet.SequenceEqual(["geosite-cn"]));
        // What is left out, each once, naming its line; nothing else.
        Assert.Equal(
        [
            "profile.yaml: line 128: group \"LB\" is load-balance, imported as url-test (Sluice has no load balancing)",
            "profile.yaml: line 193: \"IN-TYPE,SOCKS5,Proxy\" skipped: rule type IN-TYPE is not imported, or its value is not one Sluice can use",
            "profile.yaml: not carried over (Sluice has no such setting or sets it itself): bind-address, unified-delay, tcp-concurrent, find-process-mode, geodata-mode, geox-url",
            "profile.yaml: line 42: dns.nameserver: only the first server is asked (mihomo races all 2; Sluice asks one per query)",
            "profile.yaml: line 42: dns.default-nameserver: only the first server is asked (mihomo races all 2; Sluice asks one per query)",
            "profile.yaml: line 42: dns.fallback: not carried over (Sluice asks one server per query; it does not race a fallback and pick by GeoIP)",
            "profile.yaml: line 42: dns.listen: not carried over (Sluice answers the queries the TUN hijacks; add a \"direct\" inbound for a DNS listener)",
            "profile.yaml: line 21: hosts \"+.dev.test\" skipped: Sluice's hosts server takes exact names mapped to addresses",
        ], result.Notes);
    }
}
