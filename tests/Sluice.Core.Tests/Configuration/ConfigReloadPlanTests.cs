using Sluice.Core.Configuration;

namespace Sluice.Core.Tests.Configuration;

/// <summary>Which reloads keep live flows: rules and outbounds change in place, anything else needs a restart.</summary>
public sealed class ConfigReloadPlanTests
{
    private static string Config(string rules = "[]", string ssPort = "8388", string dns = "", string inbound = "172.19.0.1/30", string groupMembers = "\"ss\", \"direct\"") => $$"""
        {
          "inbounds": [{"type": "tun", "address": ["{{inbound}}"]}],
          {{dns}}
          "outbounds": [
            {"type": "direct", "tag": "direct"},
            {"type": "shadowsocks", "tag": "ss", "server": "198.51.100.1", "server_port": {{ssPort}}, "method": "aes-128-gcm", "password": "p"},
            {"type": "selector", "tag": "pick", "outbounds": [{{groupMembers}}]},
            {"type": "socks", "tag": "hop", "server": "198.51.100.2", "server_port": 1080},
          ],
          // a comment, as configs may have
          "route": {"rules": {{rules}}, "final": "direct"}
        }
        """;

    [Fact]
    public void ChangedRules_ReloadInPlace_KeepingEveryOutbound()
    {
        var plan = ConfigReloadPlan.Compare(Config(), Config(rules: """[{"port": [443], "outbound": "ss"}]"""));
        Assert.Null(plan.RestartReason);
        Assert.Equal(["direct", "hop", "pick", "ss"], plan.UnchangedOutbounds.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void ChangedOutbound_IsReplaced_AndSoIsTheGroupThatNamesIt()
    {
        var plan = ConfigReloadPlan.Compare(Config(), Config(ssPort: "8389"));
        Assert.Null(plan.RestartReason);
        Assert.Equal(["direct", "hop"], plan.UnchangedOutbounds.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void RemovedOutbound_IsNotKept()
    {
        string next = Config(groupMembers: "\"direct\"").Replace("""{"type": "socks", "tag": "hop", "server": "198.51.100.2", "server_port": 1080},""", "", StringComparison.Ordinal);
        var plan = ConfigReloadPlan.Compare(Config(), next);
        Assert.Null(plan.RestartReason);
        Assert.DoesNotContain("hop", plan.UnchangedOutbounds);
        Assert.DoesNotContain("pick", plan.UnchangedOutbounds);
    }

    [Fact]
    public void ChangedInbound_NeedsARestart_NamingTheSection()
    {
        var plan = ConfigReloadPlan.Compare(Config(), Config(inbound: "172.20.0.1/30"));
        Assert.Equal("\"inbounds\" changed", plan.RestartReason);
    }

    [Fact]
    public void DnsNamingAChangedOutbound_NeedsARestart()
    {
        const string dns = """
            "dns": {"servers": [{"type": "udp", "tag": "remote", "server": "1.1.1.1", "detour": "ss"}]},
            """;
        var plan = ConfigReloadPlan.Compare(Config(dns: dns), Config(dns: dns, ssPort: "8389"));
        Assert.Equal("\"dns\" names outbound \"ss\", which changed", plan.RestartReason);
        Assert.Null(ConfigReloadPlan.Compare(Config(dns: dns), Config(dns: dns, rules: """[{"port": [22], "action": "reject"}]""")).RestartReason);
    }
}
