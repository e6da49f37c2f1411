using BenchmarkDotNet.Attributes;
using Sluice.Core.Configuration;
using Sluice.Core.Flows;
using Sluice.Core.Routing;
using Sluice.Core.RuleSets;
using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Benchmarks;

/// <summary>
/// Router.Decide with a geosite-style rule set of 100,000 domain_suffix entries and a geoip-style set
/// of 10,000 CIDRs, behind 50 process_name rules (whose process lookup returns nothing), as the
/// compiled table holds them. Hits and a miss; must not allocate. <see cref="SetBytes"/> reports the
/// managed memory the compiled sets take (Setup measures it; printed once).
/// </summary>
[MemoryDiagnoser]
public class RuleSetBenchmarks
{
    private static readonly string[] Outbounds = ["direct", "proxy", "block"];

    private Router _router = null!;
    private FlowContext _domainHit = null!;
    private FlowContext _cidrHit = null!;
    private FlowContext _miss = null!;

    public static long SetBytes { get; private set; }

    /// <summary>process_name rules in front of the sets (each compared with the flow's cached process).</summary>
    [Params(0, 50)]
    public int ProcessRules { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(7);
        var domains = Enumerable.Range(0, 100_000).Select(i => $"d{i}.site{rng.Next(100_000)}.{(i % 3 == 0 ? "com" : "net")}").ToArray();
        var prefixes = new List<IpPrefix>(10_000);
        while (prefixes.Count < 10_000)
        {
            uint a = (uint)rng.Next(1, 224) << 24 | (uint)rng.Next() & 0xffffff;
            if (a >> 24 == 9) continue;
            prefixes.Add(new IpPrefix(NetAddress.FromV4(a), rng.Next(12, 29)));
        }
        long before = GC.GetTotalMemory(forceFullCollection: true);
        var geosite = new RuleSetHandle("geosite", RuleSetUsage.Route);
        geosite.Publish(new RuleSetContent(2, [new DefaultHeadlessRule { DomainSuffix = domains }]), DateTimeOffset.UtcNow);
        var geoip = new RuleSetHandle("geoip", RuleSetUsage.Route);
        geoip.Publish(new RuleSetContent(2, [new DefaultHeadlessRule { IpCidr = prefixes }]), DateTimeOffset.UtcNow);
        SetBytes = GC.GetTotalMemory(forceFullCollection: true) - before;

        var rules = new List<RuleOptions>();
        for (int i = 0; i < ProcessRules; i++) rules.Add(new DefaultRuleOptions { ProcessName = [$"app{i}"], Action = new RouteAction("block") });
        rules.Add(new DefaultRuleOptions { RuleSet = ["geosite"], Action = new RouteAction("proxy") });
        rules.Add(new DefaultRuleOptions { RuleSet = ["geoip"], Action = new RouteAction("proxy") });
        var scope = new RuleScope(new Dictionary<string, RuleSetHandle> { ["geosite"] = geosite, ["geoip"] = geoip }, new ClashModeState("rule"));
        _router = Router.Compile(new RouteOptions(rules, null, false, null), Outbounds, "direct", scope);

        _domainHit = Flow(NetAddress.Parse("9.9.9.9"), "cdn.www." + domains[^1]);
        _cidrHit = Flow(prefixes[^1].Network, null);
        _miss = Flow(NetAddress.Parse("9.9.9.9"), "cdn.www.unrelated.example.org");
        if (_router.Decide(_domainHit).Outbound != "proxy" || _router.Decide(_cidrHit).Outbound != "proxy" || _router.Decide(_miss).RuleIndex != -1)
            throw new InvalidOperationException("benchmark flows do not hit/miss as intended");
        Console.WriteLine($"// compiled rule sets: {SetBytes / 1024.0 / 1024.0:0.0} MiB managed (100,000 domains + 10,000 CIDRs)");
    }

    // The process lookup is cached per flow (as on the data path): the 50 process rules cost a compare each.
    private static FlowContext Flow(NetAddress destination, string? domain) =>
        new(new FlowKey(IpProtocol.Tcp, NetAddress.Parse("172.19.0.1"), 40000, destination, 443), "tun-in", static _ => new ProcessInfo(1000, 1234, "firefox", "/usr/bin/firefox"))
        {
            Domain = domain,
        };

    [Benchmark]
    public RouteDecision Geosite100k_Hit() => _router.Decide(_domainHit);

    [Benchmark]
    public RouteDecision Geoip10k_Hit() => _router.Decide(_cidrHit);

    [Benchmark]
    public RouteDecision BothSets_Miss() => _router.Decide(_miss);
}
