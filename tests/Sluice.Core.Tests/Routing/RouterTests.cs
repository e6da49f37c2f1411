using Sluice.Core.Configuration;
using Sluice.Core.Flows;
using Sluice.Core.Routing;
using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Core.Tests.Routing;

public class RouterTests
{
    private static Router Compile(string rules, string final = "direct", TimeProvider? time = null)
    {
        var config = ConfigLoader.Load($$"""
            {
              "inbounds": [ { "type": "tun", "tag": "tun-in", "address": "172.19.0.1/30" } ],
              "outbounds": [ { "type": "direct", "tag": "direct" }, { "type": "direct", "tag": "proxy" }, { "type": "block", "tag": "block" } ],
              "route": { "rules": {{rules}}, "final": "{{final}}" }
            }
            """);
        return Router.Compile(config.Route, config.Outbounds.Select(o => o.Tag).ToArray(), config.DefaultOutbound, RuleScope.Empty, time);
    }

    [Fact]
    public void SwitchedOffRule_IsPassedOver_UntilSwitchedOnAgain()
    {
        var router = Compile("""[ { "port": 443, "outbound": "proxy" }, { "port": 443, "outbound": "block" } ]""");

        Assert.True(router.SetEnabled(0, false));
        Assert.Equal(("block", 1), (router.Decide(Flow()).Outbound, router.Decide(Flow()).RuleIndex));
        Assert.True(router.SetEnabled(1, false));
        Assert.Equal(-1, router.Decide(Flow()).RuleIndex);
        Assert.True(router.SetEnabled(0, true));
        Assert.Equal("proxy", Outbound(router, Flow()));
        Assert.False(router.StateOf(1).Enabled);
        Assert.False(router.SetEnabled(2, false)); // no such rule
        Assert.False(router.SetEnabled(-1, false));
    }

    [Fact]
    public void SwitchedOffRule_InsideACompiledBlock_IsPassedOver_AndTheNextMatchOfTheRunDecides()
    {
        // Ten single-CIDR rules: one destination block. 10.0.0.0/8 (rule 2) covers 10.1.0.0/16 (rule 5).
        var cidrs = new[] { "192.0.2.0/24", "198.51.100.0/24", "10.0.0.0/8", "203.0.113.0/24", "172.16.0.0/12", "10.1.0.0/16",
            "100.64.0.0/10", "192.168.0.0/16", "169.254.0.0/16", "224.0.0.0/4" };
        var router = Compile("[" + string.Join(",", cidrs.Select((c, i) => $$"""{ "ip_cidr": "{{c}}", "outbound": "{{(i == 5 ? "block" : "proxy")}}" }""")) + "]");
        Assert.Equal(2, router.Decide(Flow("10.1.2.3")).RuleIndex);

        router.SetEnabled(2, false);
        Assert.Equal(("block", 5), (router.Decide(Flow("10.1.2.3")).Outbound, router.Decide(Flow("10.1.2.3")).RuleIndex));
        Assert.Equal(-1, router.Decide(Flow("10.9.9.9")).RuleIndex);

        router.SetEnabled(2, true);
        Assert.Equal(2, router.Decide(Flow("10.9.9.9")).RuleIndex);
    }

    [Fact]
    public void EachRule_CountsItsDecisions_WithTheTimeOfTheLast()
    {
        var clock = new Sluice.Tests.FakeClock();
        var router = Compile("""[ { "port": 443, "outbound": "proxy" }, { "port": 80, "outbound": "block" } ]""", time: clock);
        Assert.Equal(new RuleState(true, 0, null), router.StateOf(0));

        router.Decide(Flow());
        clock.Advance(5);
        router.Decide(Flow());
        router.Decide(Flow(port: 22)); // final: no rule's hit

        Assert.Equal(new RuleState(true, 2, clock.GetUtcNow()), router.StateOf(0));
        Assert.Equal(0, router.StateOf(1).Hits);
    }

    private static FlowContext Flow(
        string destination = "93.184.216.34", ushort port = 443, byte protocol = IpProtocol.Tcp,
        string source = "172.19.0.1", ushort sourcePort = 40000, string? domain = null,
        ProcessInfo? process = null, string inbound = "tun-in", Func<FlowKey, ProcessInfo?>? lookup = null)
    {
        var key = new FlowKey(protocol, NetAddress.Parse(source), sourcePort, NetAddress.Parse(destination), port);
        return new FlowContext(key, inbound, lookup ?? (_ => process)) { Domain = domain };
    }

    private static string? Outbound(Router router, FlowContext flow) => router.Decide(flow).Outbound;

    [Fact]
    public void NoRules_RoutesToFinal_WithRuleIndexMinusOne()
    {
        var d = Compile("[]", final: "proxy").Decide(Flow());
        Assert.Equal(new RouteDecision(Verdict.Route, "proxy", -1, 0, TimeSpan.Zero), d);
    }

    [Fact]
    public void FirstMatchingRule_Wins()
    {
        var router = Compile("""[ { "port": 443, "outbound": "proxy" }, { "port": 443, "outbound": "block" } ]""");
        var d = router.Decide(Flow());
        Assert.Equal((Verdict.Route, "proxy", 0, 1), (d.Verdict, d.Outbound, d.RuleIndex, d.ResumeAt));
        Assert.Equal(-1, router.Decide(Flow(port: 80)).RuleIndex);
    }

    [Theory]
    [InlineData(-1, "final")]
    [InlineData(0, "rule 0")]
    [InlineData(63, "rule 63")]
    [InlineData(200, "rule 200")]
    public void LogLines_NameTheRule_OrFinal(int index, string label) =>
        Assert.Equal(label, new RouteDecision(Verdict.Route, "proxy", index, index + 1, TimeSpan.Zero).RuleLabel);

    [Fact]
    public void EmptyRule_MatchesEverything()
    {
        Assert.Equal("proxy", Outbound(Compile("""[ { "outbound": "proxy" } ]"""), Flow()));
    }

    [Fact]
    public void Rule_IpCidr_MatchesV4AndV6()
    {
        var router = Compile("""[ { "ip_cidr": ["10.0.0.0/8", "2001:db8::/32"], "outbound": "proxy" } ]""");
        Assert.Equal("proxy", Outbound(router, Flow("10.1.2.3")));
        Assert.Equal("proxy", Outbound(router, Flow("2001:db8::1", source: "fdfe::1")));
        Assert.Equal("direct", Outbound(router, Flow("11.0.0.1")));
        Assert.Equal("direct", Outbound(router, Flow("2001:db9::1", source: "fdfe::1")));
    }

    [Fact]
    public void Rule_SourceIpCidr_AndSourcePort()
    {
        var router = Compile("""[ { "source_ip_cidr": "172.19.0.0/30", "source_port_range": "40000:", "outbound": "proxy" } ]""");
        Assert.Equal("proxy", Outbound(router, Flow()));
        Assert.Equal("direct", Outbound(router, Flow(sourcePort: 1000)));
        Assert.Equal("direct", Outbound(router, Flow(source: "172.20.0.1")));
    }

    [Theory]
    [InlineData(80, "proxy")]
    [InlineData(1000, "proxy")]
    [InlineData(1500, "proxy")]
    [InlineData(2000, "proxy")]
    [InlineData(2001, "direct")]
    [InlineData(9000, "proxy")]
    [InlineData(65535, "proxy")]
    public void Rule_PortAndPortRange_AreOneGroup(int port, string expected)
    {
        var router = Compile("""[ { "port": 80, "port_range": ["1000:2000", "9000:"], "outbound": "proxy" } ]""");
        Assert.Equal(expected, Outbound(router, Flow(port: (ushort)port)));
    }

    [Fact]
    public void Rule_DifferentKinds_AreAnded()
    {
        var router = Compile("""[ { "network": "udp", "port": 53, "outbound": "proxy" } ]""");
        Assert.Equal("proxy", Outbound(router, Flow(port: 53, protocol: IpProtocol.Udp)));
        Assert.Equal("direct", Outbound(router, Flow(port: 53, protocol: IpProtocol.Tcp)));
        Assert.Equal("direct", Outbound(router, Flow(port: 54, protocol: IpProtocol.Udp)));
    }

    [Fact]
    public void Rule_Network_Icmp_CoversIcmpV6()
    {
        var router = Compile("""[ { "network": "icmp", "outbound": "proxy" } ]""");
        Assert.Equal("proxy", Outbound(router, Flow(protocol: IpProtocol.Icmp, port: 7)));
        Assert.Equal("proxy", Outbound(router, Flow("2001:db8::1", source: "fdfe::1", protocol: IpProtocol.IcmpV6)));
        Assert.Equal("direct", Outbound(router, Flow()));
    }

    [Fact]
    public void Rule_DestinationGroup_DomainOrCidr()
    {
        var router = Compile("""[ { "domain": "example.org", "ip_cidr": "10.0.0.0/8", "port": 443, "outbound": "proxy" } ]""");
        Assert.Equal("proxy", Outbound(router, Flow("10.0.0.1")));                         // cidr alone
        Assert.Equal("proxy", Outbound(router, Flow("1.1.1.1", domain: "example.org")));   // domain alone
        Assert.Equal("direct", Outbound(router, Flow("1.1.1.1", domain: "example.com")));
        Assert.Equal("direct", Outbound(router, Flow("10.0.0.1", port: 80)));              // port group still AND-ed
    }

    [Theory]
    [InlineData("example.org", true)]
    [InlineData("a.example.org", true)]
    [InlineData("a.b.EXAMPLE.org", true)]
    [InlineData("example.org.", true)]
    [InlineData("badexample.org", false)]
    [InlineData("example.org.evil", false)]
    [InlineData("org", false)]
    public void Rule_DomainSuffix_MatchesDomainAndSubdomains(string domain, bool matches)
    {
        var router = Compile("""[ { "domain_suffix": "example.org", "outbound": "proxy" } ]""");
        Assert.Equal(matches ? "proxy" : "direct", Outbound(router, Flow(domain: domain)));
    }

    [Theory]
    [InlineData("example.org", false)]
    [InlineData("a.example.org", true)]
    [InlineData("badexample.org", false)]
    public void Rule_DomainSuffix_WithLeadingDot_MatchesOnlySubdomains(string domain, bool matches)
    {
        var router = Compile("""[ { "domain_suffix": ".example.org", "outbound": "proxy" } ]""");
        Assert.Equal(matches ? "proxy" : "direct", Outbound(router, Flow(domain: domain)));
    }

    [Fact]
    public void Rule_Domain_IsExact_AndCaseInsensitive()
    {
        var router = Compile("""[ { "domain": "Example.ORG", "outbound": "proxy" } ]""");
        Assert.Equal("proxy", Outbound(router, Flow(domain: "example.org")));
        Assert.Equal("proxy", Outbound(router, Flow(domain: "EXAMPLE.org")));
        Assert.Equal("direct", Outbound(router, Flow(domain: "www.example.org")));
        Assert.Equal("direct", Outbound(router, Flow(domain: null)));
    }

    [Fact]
    public void Rule_DomainKeywordAndRegex()
    {
        var router = Compile("""[ { "domain_keyword": "ads", "outbound": "block" }, { "domain_regex": "^cdn[0-9]+\\.", "outbound": "proxy" } ]""");
        Assert.Equal("block", Outbound(router, Flow(domain: "x.ADS.net")));
        Assert.Equal("proxy", Outbound(router, Flow(domain: "CDN12.example.org")));
        Assert.Equal("direct", Outbound(router, Flow(domain: "cdnx.example.org")));
    }

    [Theory]
    [InlineData("10.1.1.1", true)]
    [InlineData("172.31.255.255", true)]
    [InlineData("172.32.0.1", false)]
    [InlineData("192.168.1.1", true)]
    [InlineData("100.64.0.1", true)]
    [InlineData("100.128.0.1", false)]
    [InlineData("127.0.0.1", true)]
    [InlineData("169.254.1.1", true)]
    [InlineData("224.0.0.251", true)]
    [InlineData("255.255.255.255", true)]
    [InlineData("8.8.8.8", false)]
    [InlineData("::1", true)]
    [InlineData("fd12::1", true)]
    [InlineData("fe80::1", true)]
    [InlineData("ff02::fb", true)]
    [InlineData("2606:4700::1111", false)]
    public void Rule_IpIsPrivate_CoversTheDocumentedList(string address, bool isPrivate)
    {
        var router = Compile("""[ { "ip_is_private": true, "outbound": "proxy" } ]""");
        string source = address.Contains(':') ? "fdfe::1" : "172.19.0.1";
        Assert.Equal(isPrivate ? "proxy" : "direct", Outbound(router, Flow(address, source: source)));
    }

    [Fact]
    public void Rule_Inbound_AndProtocol()
    {
        var router = Compile("""[ { "inbound": "tun-in", "protocol": ["tls", "quic"], "outbound": "proxy" } ]""");
        Assert.Equal("direct", Outbound(router, Flow()));
        var flow = Flow();
        flow.Protocol = "tls";
        Assert.Equal("proxy", Outbound(router, flow));
        var other = Flow(inbound: "other");
        other.Protocol = "tls";
        Assert.Equal("direct", Outbound(router, other));
    }

    [Fact]
    public void Rule_ProcessName_MatchesComm()
    {
        var router = Compile("""[ { "process_name": "curl", "outbound": "proxy" } ]""");
        Assert.Equal("proxy", Outbound(router, Flow(process: new ProcessInfo(1000, 42, "curl", null))));
        Assert.Equal("direct", Outbound(router, Flow(process: new ProcessInfo(1000, 42, "wget", "/usr/bin/wget"))));
        Assert.Equal("direct", Outbound(router, Flow(process: null)));
    }

    [Fact]
    public void Rule_ProcessName_MatchesTruncatedComm()
    {
        var router = Compile("""[ { "process_name": "chromium-browser-beta", "outbound": "proxy" } ]""");
        Assert.Equal("proxy", Outbound(router, Flow(process: new ProcessInfo(1000, 42, "chromium-browse", null))));
        Assert.Equal("direct", Outbound(router, Flow(process: new ProcessInfo(1000, 42, "chromium-browser", null))));
    }

    [Fact]
    public void Rule_ProcessName_MatchesBasenameOfPath()
    {
        var router = Compile("""[ { "process_name": "chromium-browser-beta", "outbound": "proxy" } ]""");
        Assert.Equal("proxy", Outbound(router, Flow(process: new ProcessInfo(1000, 42, "ThreadPoolForeg", "/usr/lib/chromium/chromium-browser-beta"))));
    }

    [Fact]
    public void Rule_ProcessPath_AndRegex_AndUserId_AreAnded()
    {
        var router = Compile("""[ { "process_path": "/usr/bin/curl", "user_id": 1000, "outbound": "proxy" }, { "process_path_regex": "^/opt/.+", "outbound": "block" } ]""");
        Assert.Equal("proxy", Outbound(router, Flow(process: new ProcessInfo(1000, 1, "curl", "/usr/bin/curl"))));
        Assert.Equal("direct", Outbound(router, Flow(process: new ProcessInfo(0, 1, "curl", "/usr/bin/curl"))));
        Assert.Equal("block", Outbound(router, Flow(process: new ProcessInfo(0, 1, "app", "/opt/app/bin/app"))));
        Assert.Equal("direct", Outbound(router, Flow(process: new ProcessInfo(0, 1, "app", null))));
    }

    [Fact]
    public void ProcessLookup_NotCalled_WhenNoRuleNeedsIt()
    {
        int calls = 0;
        var router = Compile("""[ { "port": 80, "outbound": "proxy" }, { "domain": "x.org", "outbound": "block" } ]""");
        var flow = Flow(lookup: _ => { calls++; return null; });
        router.Decide(flow);
        Assert.False(router.UsesProcess);
        Assert.Equal(0, calls);
        Assert.False(flow.ProcessResolved);
    }

    [Fact]
    public void ProcessLookup_NotCalled_WhenCheaperMatchersOfTheRuleFail()
    {
        int calls = 0;
        var router = Compile("""[ { "port": 80, "process_name": "curl", "outbound": "proxy" } ]""");
        router.Decide(Flow(port: 443, lookup: _ => { calls++; return null; }));
        Assert.True(router.UsesProcess);
        Assert.Equal(0, calls);
    }

    [Fact]
    public void ProcessLookup_CalledAtMostOnce_EvenForNullResults()
    {
        int calls = 0;
        var router = Compile("""[ { "process_name": "a", "outbound": "proxy" }, { "user_id": 5, "outbound": "block" }, { "process_path": "/x", "outbound": "block" } ]""");
        var flow = Flow(lookup: _ => { calls++; return null; });
        Assert.Equal(-1, router.Decide(flow).RuleIndex);
        router.Decide(flow);
        Assert.Equal(1, calls);
        Assert.True(flow.ProcessResolved);
    }

    [Fact]
    public void Logical_And_Or_Invert()
    {
        var router = Compile("""
            [
              { "type": "logical", "mode": "and", "rules": [ { "network": "udp" }, { "port": 443 } ], "outbound": "block" },
              { "type": "logical", "mode": "or", "rules": [ { "port": 22 }, { "domain": "ssh.example" } ], "outbound": "proxy" },
              { "type": "logical", "mode": "and", "invert": true, "rules": [ { "ip_cidr": "10.0.0.0/8" } ], "outbound": "proxy" }
            ]
            """);
        Assert.Equal("block", Outbound(router, Flow("10.0.0.1", protocol: IpProtocol.Udp)));  // QUIC
        Assert.Equal("proxy", Outbound(router, Flow("10.0.0.1", port: 22)));
        Assert.Equal("proxy", Outbound(router, Flow("10.0.0.1", port: 80, domain: "ssh.example")));
        Assert.Equal("direct", Outbound(router, Flow("10.0.0.1", port: 80)));
        Assert.Equal(2, router.Decide(Flow("8.8.8.8", port: 80)).RuleIndex);                  // inverted: not in 10/8
    }

    [Fact]
    public void DefaultRule_Invert()
    {
        var router = Compile("""[ { "port": 443, "invert": true, "outbound": "proxy" } ]""");
        Assert.Equal("proxy", Outbound(router, Flow(port: 80)));
        Assert.Equal("direct", Outbound(router, Flow(port: 443)));
    }

    [Fact]
    public void Reject_And_Drop_And_HijackDns()
    {
        var router = Compile("""
            [ { "port": 53, "action": "hijack-dns" }, { "port": 853, "action": "reject", "method": "drop" }, { "port": 25, "action": "reject" } ]
            """);
        Assert.Equal(Verdict.HijackDns, router.Decide(Flow(port: 53)).Verdict);
        Assert.Equal(Verdict.Drop, router.Decide(Flow(port: 853)).Verdict);
        var reject = router.Decide(Flow(port: 25));
        Assert.Equal((Verdict.Reject, (string?)null, 2), (reject.Verdict, reject.Outbound, reject.RuleIndex));
    }

    [Fact]
    public void Sniff_ReturnsOnce_ThenResumesAfterTheSniffRule()
    {
        var router = Compile("""
            [
              { "network": "tcp", "action": "sniff", "timeout": "150ms" },
              { "domain_suffix": "example.org", "outbound": "proxy" },
              { "action": "sniff" },
              { "protocol": "tls", "outbound": "block" }
            ]
            """);
        var flow = Flow();
        var first = router.Decide(flow);
        Assert.Equal(new RouteDecision(Verdict.Sniff, null, 0, 1, TimeSpan.FromMilliseconds(150)), first);
        Assert.True(flow.Sniffed);

        flow.Domain = "www.example.org";
        flow.Protocol = "tls";
        Assert.Equal("proxy", router.Decide(flow, first.ResumeAt).Outbound);

        // A sniffed flow skips every later sniff rule, even when it starts from the top.
        var other = Flow();
        router.Decide(other);
        other.Protocol = "tls";
        var d = router.Decide(other, 1);
        Assert.Equal((Verdict.Route, "block", 3), (d.Verdict, d.Outbound, d.RuleIndex));
        Assert.Equal(Verdict.Route, router.Decide(other).Verdict);
    }

    [Fact]
    public void UsesDomain_And_UsesProcess_Flags()
    {
        Assert.True(Compile("""[ { "type": "logical", "mode": "or", "rules": [ { "domain_keyword": "x" } ], "outbound": "proxy" } ]""").UsesDomain);
        Assert.True(Compile("""[ { "type": "logical", "mode": "or", "rules": [ { "user_id": 0 } ], "outbound": "proxy" } ]""").UsesProcess);
        var plain = Compile("""[ { "ip_cidr": "1.0.0.0/8", "outbound": "proxy" } ]""");
        Assert.False(plain.UsesDomain);
        Assert.False(plain.UsesProcess);
    }

    [Fact]
    public void Describe_GivesOneLinePerRule()
    {
        var router = Compile("""
            [
              { "process_name": "curl-blocked", "action": "reject" },
              { "network": "tcp", "port": [80, 443], "outbound": "proxy" },
              { "type": "logical", "mode": "or", "invert": true, "rules": [ { "port": 22 }, { "ip_is_private": true } ], "action": "reject", "method": "drop" },
              { "action": "sniff" },
              { "outbound": "direct" }
            ]
            """);
        Assert.Equal(
            [
                "process_name=[curl-blocked] => reject",
                "network=[tcp] port=[80,443] => proxy",
                "not or(port=[22]; ip_is_private) => reject(drop)",
                "any => sniff(all, 300ms)",
                "any => direct",
            ],
            router.Describe());
    }

    [Fact]
    public void Compile_Rejects_UnknownOutbound()
    {
        var route = new RouteOptions([new DefaultRuleOptions { Action = new RouteAction("nope") }], null, false, null);
        Assert.Throws<ArgumentException>(() => Router.Compile(route, ["direct"], "direct"));
        Assert.Throws<ArgumentException>(() => Router.Compile(RouteOptions.Empty, ["direct"], "proxy"));
        Assert.Throws<ArgumentException>(() => Router.Compile(new RouteOptions([new DefaultRuleOptions()], null, false, null), ["direct"], "direct"));
    }

    [Fact]
    public void ManyDestinationRules_KeepFirstMatchOrder()
    {
        // 20 consecutive destination-only rules become one block; order must still be exact.
        var rules = new List<RuleOptions>();
        for (int i = 0; i < 20; i++)
        {
            rules.Add(new DefaultRuleOptions
            {
                IpCidr = [IpPrefix.Parse($"10.{i}.0.0/16")],
                DomainSuffix = [$"d{i}.test"],
                Action = new RouteAction(i % 2 == 0 ? "proxy" : "block"),
            });
        }
        rules.Insert(5, new DefaultRuleOptions { IpCidr = [IpPrefix.Parse("10.0.0.0/8")], Action = new RouteAction("direct"), Port = [80] });
        rules.Add(new DefaultRuleOptions { IpCidr = [IpPrefix.Parse("10.7.0.0/16")], Action = new RouteAction("direct") }); // shadowed by rule 8 (10.7/16)
        rules.Insert(12, new DefaultRuleOptions { IpCidr = [IpPrefix.Parse("10.0.0.0/8")], Action = new RouteAction("direct") }); // shadows 10.11.. onwards
        var router = Router.Compile(new RouteOptions(rules, null, false, null), ["direct", "proxy", "block"], "direct");

        for (int i = 0; i < rules.Count; i++)
        {
            foreach (var flow in new[] { Flow($"10.{i}.1.1"), Flow("1.1.1.1", domain: $"x.d{i}.test"), Flow($"10.{i}.1.1", port: 80) })
            {
                int expected = -1;
                for (int r = 0; r < rules.Count && expected < 0; r++)
                {
                    if (Reference(rules[r], flow)) expected = r;
                }
                Assert.Equal(expected, router.Decide(flow).RuleIndex);
                for (int start = 0; start <= rules.Count; start++)
                {
                    int expectedFrom = -1;
                    for (int r = start; r < rules.Count && expectedFrom < 0; r++)
                        if (Reference(rules[r], flow)) expectedFrom = r;
                    Assert.Equal(expectedFrom, router.Decide(flow, start).RuleIndex);
                }
            }
        }

        static bool Reference(RuleOptions rule, FlowContext flow)
        {
            var d = (DefaultRuleOptions)rule;
            bool destination = d.IpCidr.Any(p => p.Contains(flow.Key.Destination))
                || (flow.Domain is { } n && d.DomainSuffix.Any(s => n == s || n.EndsWith("." + s, StringComparison.Ordinal)));
            return destination && (d.Port.Count == 0 || d.Port.Contains(flow.Key.DestinationPort));
        }
    }

    [Fact]
    public void Decide_DoesNotAllocate()
    {
        var rules = new List<RuleOptions>
        {
            new DefaultRuleOptions { DomainSuffix = ["example.org"], Port = [443], Action = new RouteAction("proxy") },
            new DefaultRuleOptions { DomainKeyword = ["zzz"], Action = new RouteAction("proxy") },
            new DefaultRuleOptions { ProcessName = ["curl"], Network = ["tcp"], Action = new RouteAction("proxy") },
        };
        for (int i = 0; i < 100; i++) rules.Add(new DefaultRuleOptions { IpCidr = [IpPrefix.Parse($"11.{i}.0.0/16")], Action = new RouteAction("block") });
        var router = Router.Compile(new RouteOptions(rules, null, false, null), ["direct", "proxy", "block"], "direct");
        var process = new ProcessInfo(1, 1, "wget", "/usr/bin/wget");
        var flow = Flow("8.8.8.8", domain: "a.b.c.example.com", process: process);
        router.Decide(flow);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++) router.Decide(flow);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
