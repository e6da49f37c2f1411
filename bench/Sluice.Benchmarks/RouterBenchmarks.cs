using BenchmarkDotNet.Attributes;
using Sluice.Core.Configuration;
using Sluice.Core.Flows;
using Sluice.Core.Routing;
using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Benchmarks;

/// <summary>
/// Router.Decide with large rule sets: 10,000 random IPv4 prefixes in one rule, the same as 10,000
/// single-prefix rules, and 10,000 domain_suffix entries; a hit and a miss each. Must not allocate.
/// </summary>
[MemoryDiagnoser]
public class RouterBenchmarks
{
    private const int Size = 10_000;
    private static readonly string[] Outbounds = ["direct", "proxy"];

    private Router _oneCidrRule = null!;
    private Router _manyCidrRules = null!;
    private Router _domainRule = null!;
    private FlowContext _cidrHit = null!;
    private FlowContext _cidrMiss = null!;
    private FlowContext _domainHit = null!;
    private FlowContext _domainMiss = null!;

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(42);
        var prefixes = new List<IpPrefix>(Size);
        while (prefixes.Count < Size)
        {
            uint a = (uint)rng.Next(1, 224) << 24 | (uint)rng.Next() & 0xffffff;
            if (a >> 24 == 9) continue; // keep 9.0.0.0/8 free for the miss
            prefixes.Add(new IpPrefix(NetAddress.FromV4(a), rng.Next(12, 29)));
        }
        var domains = Enumerable.Range(0, Size).Select(i => $"site{i}.example{i % 97}.com").ToArray();

        _oneCidrRule = Compile([new DefaultRuleOptions { IpCidr = prefixes, Action = new RouteAction("proxy") }]);
        _manyCidrRules = Compile(prefixes.Select(p => (RuleOptions)new DefaultRuleOptions { IpCidr = [p], Action = new RouteAction("proxy") }).ToList());
        // A few cheap rules in front, as in a real config, then the big domain rule.
        _domainRule = Compile(
        [
            new DefaultRuleOptions { Port = [53], Action = new HijackDnsAction() },
            new DefaultRuleOptions { IpIsPrivate = true, Action = new RouteAction("direct") },
            new DefaultRuleOptions { DomainSuffix = domains, Action = new RouteAction("proxy") },
        ]);

        var last = prefixes[^1];
        _cidrHit = Flow(last.Network, null);
        _cidrMiss = Flow(NetAddress.Parse("9.9.9.9"), null);
        _domainHit = Flow(NetAddress.Parse("9.9.9.9"), "cdn.www." + domains[^1]);
        _domainMiss = Flow(NetAddress.Parse("9.9.9.9"), "cdn.www.unrelated.example.net");

        if (_oneCidrRule.Decide(_cidrHit).Outbound != "proxy" || _manyCidrRules.Decide(_cidrHit).Outbound != "proxy"
            || _domainRule.Decide(_domainHit).Outbound != "proxy" || _domainRule.Decide(_domainMiss).RuleIndex != -1
            || _oneCidrRule.Decide(_cidrMiss).RuleIndex != -1)
            throw new InvalidOperationException("benchmark flows do not hit/miss as intended");
    }

    private static Router Compile(List<RuleOptions> rules) =>
        Router.Compile(new RouteOptions(rules, null, false, null), Outbounds, "direct");

    private static FlowContext Flow(NetAddress destination, string? domain) =>
        new(new FlowKey(IpProtocol.Tcp, NetAddress.Parse("172.19.0.1"), 40000, destination, 443), "tun-in", static _ => (ProcessInfo?)null)
        {
            Domain = domain,
        };

    [Benchmark]
    public RouteDecision OneRule10kCidr_Hit() => _oneCidrRule.Decide(_cidrHit);

    [Benchmark]
    public RouteDecision OneRule10kCidr_Miss() => _oneCidrRule.Decide(_cidrMiss);

    [Benchmark]
    public RouteDecision TenThousandCidrRules_Hit() => _manyCidrRules.Decide(_cidrHit);

    [Benchmark]
    public RouteDecision TenThousandCidrRules_Miss() => _manyCidrRules.Decide(_cidrMiss);

    [Benchmark]
    public RouteDecision DomainSuffix10k_Hit() => _domainRule.Decide(_domainHit);

    [Benchmark]
    public RouteDecision DomainSuffix10k_Miss() => _domainRule.Decide(_domainMiss);
}
