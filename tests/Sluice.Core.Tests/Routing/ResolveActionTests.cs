using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Core.Configuration;
using Sluice.Core.Dns;
using Sluice.Core.Outbounds;
using Sluice.Core.Routing;
using Sluice.Core.Stack;
using Sluice.Packets;

namespace Sluice.Core.Tests.Routing;

/// <summary>
/// action "resolve": a flow whose destination stands for a name (a fake address, a proxy request by name)
/// has the name looked up, and the IP rules after it test the addresses found, not the stand-in.
/// </summary>
public class ResolveActionTests
{
    private const string Servers = """
        "dns": { "servers": [ { "type": "udp", "tag": "lan", "server": "192.0.2.53" }, { "type": "fakeip", "tag": "fake" } ] }
        """;

    private static string Config(string rules) => $$"""
        {
          "inbounds": [ { "type": "tun", "tag": "tun-in", "address": "172.19.0.1/30" } ],
          "outbounds": [ { "type": "direct", "tag": "direct" }, { "type": "direct", "tag": "proxy" } ],
          {{Servers}},
          "route": { "rules": {{rules}}, "final": "direct" }
        }
        """;

    private static Router Compile(string rules)
    {
        var config = ConfigLoader.Load(Config(rules));
        return Router.Compile(config.Route, config.Outbounds.Select(o => o.Tag).ToArray(), config.DefaultOutbound);
    }

    private const string ResolveThenCidr = """
        [ { "action": "resolve", "server": "lan", "strategy": "ipv4_only" },
          { "ip_cidr": "203.0.113.0/24", "outbound": "proxy" } ]
        """;

    /// <summary>A flow to a fake address that stands for <paramref name="name"/>.</summary>
    private static FlowContext FakeFlow(string name = "site.example") =>
        new(new FlowKey(IpProtocol.Tcp, NetAddress.Parse("172.19.0.2"), 40000, NetAddress.Parse("198.18.0.5"), 443), "tun-in", null)
        {
            Domain = name,
            DestinationIsName = true,
        };

    [Fact]
    public void Config_ResolveAction_CarriesServerAndStrategy()
    {
        var config = ConfigLoader.Load(Config(ResolveThenCidr));
        Assert.Equal(new ResolveAction("lan", DnsStrategy.Ipv4Only), config.Route.Rules[0].Action);
        Assert.Equal(new ResolveAction(null, null), ConfigLoader.Load(Config("""[ { "action": "resolve" } ]""")).Route.Rules[0].Action);
    }

    [Theory]
    [InlineData("""{ "action": "resolve", "server": "nowhere" }""", "route.rules[0].server: no DNS server has tag \"nowhere\"")]
    [InlineData("""{ "action": "resolve", "server": "fake" }""", "route.rules[0].server: \"fake\" is a fakeip server")]
    [InlineData("""{ "action": "resolve", "strategy": "ipv5" }""", "route.rules[0].strategy")]
    [InlineData("""{ "action": "resolve", "disable_cache": true }""", "route.rules[0].disable_cache: not supported by Sluice yet")]
    [InlineData("""{ "outbound": "proxy", "server": "lan" }""", "route.rules[0].server: only allowed with \"action\": \"resolve\"")]
    public void Config_ResolveMistakes_NameTheirPath(string rule, string expected)
    {
        var errors = ConfigLoader.Validate(Config("[" + rule + "]"));
        Assert.Contains(errors, e => e.ToString().StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void NameDestination_StopsAtTheResolveRule_ThenIpRulesTestTheAddressesFound()
    {
        var router = Compile(ResolveThenCidr);
        var flow = FakeFlow();

        var first = router.Decide(flow);
        Assert.Equal((Verdict.Resolve, 0, 1), (first.Verdict, first.RuleIndex, first.ResumeAt));
        Assert.Equal(new ResolveAction("lan", DnsStrategy.Ipv4Only), router.ResolveOf(0));

        flow.ResolvedAddresses = [NetAddress.Parse("203.0.113.10")];
        Assert.Equal(("proxy", 1), (router.Decide(flow, first.ResumeAt).Outbound, router.Decide(flow, first.ResumeAt).RuleIndex));

        var elsewhere = FakeFlow();
        elsewhere.ResolvedAddresses = [NetAddress.Parse("192.0.2.80")];
        Assert.Equal(("direct", -1), (router.Decide(elsewhere, 1).Outbound, router.Decide(elsewhere, 1).RuleIndex));
    }

    [Fact]
    public void WithoutResolve_TheStandInAddressIsWhatIpRulesSee()
    {
        // Positive control for the test above: the fake address itself is not in 203.0.113.0/24.
        var router = Compile("""[ { "ip_cidr": "203.0.113.0/24", "outbound": "proxy" } ]""");
        Assert.Equal("direct", router.Decide(FakeFlow()).Outbound);
    }

    [Fact]
    public void AddressDestination_PassesTheResolveRuleOver_AsSingBoxDoes()
    {
        var router = Compile(ResolveThenCidr);
        var flow = new FlowContext(new FlowKey(IpProtocol.Tcp, NetAddress.Parse("172.19.0.2"), 40000, NetAddress.Parse("203.0.113.7"), 443), "tun-in", null)
        {
            Domain = "sniffed.example",
        };
        var decision = router.Decide(flow);
        Assert.Equal(("proxy", 1), (decision.Outbound, decision.RuleIndex));
    }

    [Fact]
    public void ResolvedAddresses_ReachRuleSetsAndIpIsPrivate_AndTheMergedCidrBlock()
    {
        // Eight single-CIDR rules in a row are merged into one block: the block must read the addresses found too.
        string block = string.Join(", ", Enumerable.Range(1, 8).Select(i => $$"""{ "ip_cidr": "10.{{i}}.0.0/16", "outbound": "proxy" }"""));
        var router = Compile($$"""[ { "action": "resolve" }, {{block}}, { "ip_is_private": true, "action": "reject" } ]""");
        var flow = FakeFlow();
        Assert.Equal(Verdict.Resolve, router.Decide(flow).Verdict);
        flow.ResolvedAddresses = [NetAddress.Parse("192.0.2.1"), NetAddress.Parse("10.7.1.1")];
        Assert.Equal(("proxy", 7), (router.Decide(flow, 1).Outbound, router.Decide(flow, 1).RuleIndex));

        var lan = FakeFlow();
        lan.ResolvedAddresses = [NetAddress.Parse("192.168.1.9")];
        Assert.Equal(Verdict.Reject, router.Decide(lan, 1).Verdict);

        var nothing = FakeFlow();
        nothing.ResolvedAddresses = [];
        Assert.Equal(-1, router.Decide(nothing, 1).RuleIndex);
    }

    [Fact]
    public async Task LaneSelector_WaitsForTheLookup_WhereTheCallerCan_AndPassesItOverWhereItCannot()
    {
        var router = Compile(ResolveThenCidr);
        var lanes = new LaneSelector(router, new Dictionary<string, IOutbound>(), "direct", dnsServerRunning: false, NullLogger.Instance);
        var asked = new List<(string, ResolveAction)>();
        lanes.Resolver = (name, action, _) =>
        {
            asked.Add((name, action));
            return ValueTask.FromResult<IReadOnlyList<NetAddress>>([NetAddress.Parse("203.0.113.10")]);
        };

        // The packet path (UDP, ICMP) does not wait: the rule is passed over, nothing is asked.
        var udp = lanes.Choose(FakeFlow());
        Assert.Equal(-1, udp.Decision.RuleIndex);
        Assert.Empty(asked);

        var flow = FakeFlow();
        var choice = lanes.Choose(flow, stopAtResolve: true);
        Assert.Equal(LaneKind.NeedsResolve, choice.Kind);
        choice = await lanes.ResolveAsync(flow, choice, CancellationToken.None);

        Assert.Equal([("site.example", new ResolveAction("lan", DnsStrategy.Ipv4Only))], asked);
        Assert.Equal(("proxy", 1), (choice.Decision.Outbound, choice.Decision.RuleIndex));
    }
}
