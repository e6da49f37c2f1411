using Sluice.Core.Configuration;
using Sluice.Core.Dns;
using Sluice.Core.Flows;
using Sluice.Packets;

namespace Sluice.Core.Tests.Dns;

public class DnsRuleTests
{
    [Fact]
    public async Task DomainSuffixRule_RoutesToItsServer_OthersGoToFinal()
    {
        await using var plain = new DnsResponder();
        await using var tunnel = new DnsResponder();
        await using var server = DnsKit.Server(new DnsOptions
        {
            Servers = [DnsKit.Udp("plain", plain), DnsKit.Udp("tunnel", tunnel)],
            Rules = [new DefaultDnsRuleOptions { DomainSuffix = ["tunnel.example"], Action = new DnsRouteAction("tunnel") }],
            Final = "plain",
        });

        await server.Ask("a.tunnel.example");
        await server.Ask("tunnel.example");
        await server.Ask("nottunnel.example");
        await server.Ask("example.org");

        Assert.Equal(["a.tunnel.example", "tunnel.example"], tunnel.Seen.Select(q => q.Name));
        Assert.Equal(["nottunnel.example", "example.org"], plain.Seen.Select(q => q.Name));
    }

    [Fact]
    public async Task ProcessRule_RoutesByTheQueryingProcess_AndLooksItUpOnlyWhenEvaluated()
    {
        await using var plain = new DnsResponder();
        await using var tunnel = new DnsResponder();
        await using var server = DnsKit.Server(new DnsOptions
        {
            Servers = [DnsKit.Udp("plain", plain), DnsKit.Udp("tunnel", tunnel)],
            Rules =
            [
                new DefaultDnsRuleOptions { Domain = ["local.example"], Action = new DnsRouteAction("plain") },
                new DefaultDnsRuleOptions { ProcessName = ["firefox"], Action = new DnsRouteAction("tunnel") },
            ],
            Final = "plain",
        });
        int lookups = 0;
        DnsQuerier As(string name) => new("tun-in", () =>
        {
            lookups++;
            return new ProcessInfo(1000, 7, name, "/usr/lib/" + name);
        });

        await server.Ask("local.example", querier: As("firefox"));
        Assert.Equal(0, lookups); // decided by the domain rule before any process rule
        await server.Ask("video.example", querier: As("firefox"));
        Assert.Equal(1, lookups);
        await server.Ask("video.example", querier: As("curl"));
        Assert.Equal(2, lookups);

        Assert.Equal(["video.example"], tunnel.Seen.Select(q => q.Name));
        Assert.Equal(["local.example", "video.example"], plain.Seen.Select(q => q.Name));
    }

    [Fact]
    public async Task QueryTypeKeywordRegexAndLogicalRules_Match_AsSingBox()
    {
        await using var up = new DnsResponder();
        await using var server = DnsKit.Server(new DnsOptions
        {
            Servers = [DnsKit.Udp("up", up)],
            Rules =
            [
                new DefaultDnsRuleOptions { QueryType = [DnsType.HTTPS], Action = new DnsRejectAction(false) },
                new DefaultDnsRuleOptions { DomainKeyword = ["tracker"], Action = new DnsPredefinedAction(DnsRcode.NxDomain, [], [], []) },
                new DefaultDnsRuleOptions { DomainRegex = [@"^ads\d+\."], Action = new DnsRejectAction(Drop: true) },
                new LogicalDnsRuleOptions(LogicalMode.And,
                [
                    new DefaultDnsRuleOptions { DomainSuffix = ["corp.example"] },
                    new DefaultDnsRuleOptions { Inbound = ["mixed-in"], Invert = true },
                ]) { Action = new DnsPredefinedAction(DnsRcode.NoError, ["corp.example. 60 IN A 10.0.0.1"], [], []) },
            ],
        });

        Assert.Equal(5, Msg.Rcode(await server.Ask("x.example", DnsType.HTTPS)));
        Assert.Equal(3, Msg.Rcode(await server.Ask("mytracker.example")));
        Assert.Empty(await server.Ask("ads12.example"));
        var corp = await server.Ask("corp.example");
        Assert.Equal(["10.0.0.1"], Msg.Addresses(corp));
        Assert.Equal(60u, Msg.Answers(corp)[0].Ttl);
        await server.Ask("corp.example", querier: DnsQuerier.Anonymous("mixed-in"));
        Assert.Equal(["corp.example"], up.Seen.Select(q => q.Name));
        Assert.Equal(1, server.Statistics.Dropped);
    }

    [Theory]
    [InlineData(DnsStrategy.Ipv4Only, DnsType.AAAA)]
    [InlineData(DnsStrategy.Ipv6Only, DnsType.A)]
    public async Task Strategy_AnswersTheExcludedFamilyWithNoData_WithoutAskingUpstream(DnsStrategy strategy, ushort excluded)
    {
        await using var up = new DnsResponder();
        await using var server = DnsKit.Server(new DnsOptions { Servers = [DnsKit.Udp("up", up)], Strategy = strategy });

        var answer = await server.Ask("dual.example", excluded);

        Assert.Equal(0, Msg.Rcode(answer));
        Assert.Equal(0, Msg.Count(answer, 1));
        Assert.Equal(0, up.Count);
        await server.Ask("dual.example", excluded == DnsType.A ? DnsType.AAAA : DnsType.A);
        Assert.Equal(1, up.Count);
    }

    [Fact]
    public async Task RouteActionStrategy_OverridesTheGlobalOne()
    {
        await using var up = new DnsResponder();
        await using var server = DnsKit.Server(new DnsOptions
        {
            Servers = [DnsKit.Udp("up", up)],
            Rules = [new DefaultDnsRuleOptions { DomainSuffix = ["v4.example"], Action = new DnsRouteAction("up", DnsStrategy.Ipv4Only) }],
        });
        await server.Ask("a.v4.example", DnsType.AAAA);
        await server.Ask("other.example", DnsType.AAAA);
        Assert.Equal(["other.example"], up.Seen.Select(q => q.Name));
    }

    /// <summary>sing-box's rewrite_ttl: the client sees the rule's TTL on upstream, cached and fakeip answers; the cache keeps the real one.</summary>
    [Fact]
    public async Task RewriteTtl_SetsEveryAnswerTtl_ForTheRulesQueriesOnly_FreshCachedAndFake()
    {
        await using var up = new DnsResponder();
        var config = Sluice.Core.Configuration.ConfigLoader.Load($$"""
            {
              "dns": {
                "servers": [ { "type": "udp", "tag": "up", "server": "127.0.0.1", "server_port": {{up.Port}} },
                             { "type": "fakeip", "tag": "fake", "inet4_range": "198.18.0.0/15" } ],
                "rules": [ { "domain_suffix": "short.example", "server": "up", "rewrite_ttl": 5 },
                           { "domain_suffix": "fake.example", "server": "fake", "rewrite_ttl": 30 } ],
                "final": "up"
              }
            }
            """);
        await using var server = DnsKit.Server(config.Dns);

        var fresh = await server.Ask("a.short.example");
        var cached = await server.Ask("a.short.example");
        var other = await server.Ask("b.long.example");
        var fake = await server.Ask("x.fake.example");

        Assert.Equal(5u, Msg.Answers(fresh)[0].Ttl);
        Assert.Equal(5u, Msg.Answers(cached)[0].Ttl);
        Assert.Equal(1, up.Seen.Count(q => q.Name == "a.short.example")); // the second came from the cache
        Assert.Equal(300u, Msg.Answers(other)[0].Ttl);
        Assert.StartsWith("198.1", Assert.Single(Msg.Addresses(fake)));
        Assert.Equal(30u, Msg.Answers(fake)[0].Ttl);
    }

    [Fact]
    public async Task FakeIp_RoundTrip_NameToAddressAndBack()
    {
        await using var server = DnsKit.Server(new DnsOptions
        {
            Servers = [new FakeIpDnsServerOptions("fake", Tun.IpPrefix.Parse("198.18.0.0/15"), Tun.IpPrefix.Parse("fc00::/18"))],
        });

        var a = await server.Ask("proxied.example");
        var again = await server.Ask("PROXIED.example");
        var aaaa = await server.Ask("proxied.example", DnsType.AAAA);
        var other = await server.Ask("other.example");

        string v4 = Assert.Single(Msg.Addresses(a));
        Assert.StartsWith("198.1", v4);
        Assert.Equal(1u, Msg.Answers(a)[0].Ttl);
        Assert.Equal([v4], Msg.Addresses(again));
        Assert.NotEqual([v4], Msg.Addresses(other));
        string v6 = Assert.Single(Msg.Addresses(aaaa));
        Assert.StartsWith("fc00:", v6);

        Assert.True(server.Map.IsFakeIp(NetAddress.Parse(v4)));
        Assert.True(server.Map.TryGetDomain(NetAddress.Parse(v4), out string domain));
        Assert.Equal("proxied.example", domain);
        Assert.True(server.Map.TryGetDomain(NetAddress.Parse(v6), out domain));
        Assert.Equal("proxied.example", domain);
        Assert.True(server.Map.IsFakeIp(NetAddress.Parse("198.19.255.1")));
        Assert.False(server.Map.TryGetDomain(NetAddress.Parse("198.19.255.1"), out _));
        Assert.False(server.Map.IsFakeIp(NetAddress.Parse("192.0.2.1")));
        Assert.Equal(0, Msg.Count(await server.Ask("proxied.example", DnsType.MX), 1));
    }

    /// <summary>The dashboards' "flush fake-ip cache": the old addresses lead nowhere, names get addresses from the range's start again.</summary>
    [Fact]
    public async Task FlushFakeIps_ForgetsEveryName_AndHandsAddressesOutFromTheStart()
    {
        await using var server = DnsKit.Server(new DnsOptions
        {
            Servers = [new FakeIpDnsServerOptions("fake", Tun.IpPrefix.Parse("198.18.0.0/15"), Tun.IpPrefix.Parse("fc00::/18"))],
        });
        string first = Msg.Addresses(await server.Ask("one.example")).Single();
        string second = Msg.Addresses(await server.Ask("two.example")).Single();
        await server.Ask("two.example", DnsType.AAAA);

        Assert.Equal(3, server.FlushFakeIps());

        Assert.False(server.Map.TryGetDomain(NetAddress.Parse(second), out _));
        Assert.Equal(first, Msg.Addresses(await server.Ask("two.example")).Single()); // the range's first address again
        Assert.True(server.Map.TryGetDomain(NetAddress.Parse(first), out string domain));
        Assert.Equal("two.example", domain);
    }

    [Fact]
    public void FakeIpPool_WrapsAround_AndTheOldestNameLosesItsAddress()
    {
        var pool = new FakeIpPool(Tun.IpPrefix.Parse("10.9.0.0/30")); // .1 and .2 usable
        var a = pool.Allocate("a");
        var b = pool.Allocate("b");
        var c = pool.Allocate("c");
        Assert.Equal(NetAddress.Parse("10.9.0.1"), a);
        Assert.Equal(NetAddress.Parse("10.9.0.2"), b);
        Assert.Equal(a, c);
        Assert.True(pool.TryGetName(a, out string name));
        Assert.Equal("c", name);
        Assert.Equal(NetAddress.Parse("10.9.0.2"), pool.Allocate("b"));
    }

    [Fact]
    public async Task HostsServer_AnswersKnownNames_NxDomainForOthers_AndFeedsTheMap()
    {
        string file = Path.GetTempFileName();
        await File.WriteAllTextAsync(file, "# comment\n192.0.2.5 printer.lan printer\n2001:db8::5 printer.lan\n");
        try
        {
            await using var server = DnsKit.Server(new DnsOptions
            {
                Servers = [new HostsDnsServerOptions("hosts", [file], new Dictionary<string, IReadOnlyList<NetAddress>> { ["nas.lan"] = [NetAddress.Parse("192.0.2.6")] })],
            });
            Assert.Equal(["192.0.2.5"], Msg.Addresses(await server.Ask("printer.lan")));
            Assert.Equal(["2001:db8::5"], Msg.Addresses(await server.Ask("Printer.LAN", DnsType.AAAA)));
            Assert.Equal(["192.0.2.6"], Msg.Addresses(await server.Ask("nas.lan")));
            Assert.Equal(0, Msg.Count(await server.Ask("nas.lan", DnsType.AAAA), 1));
            Assert.Equal(3, Msg.Rcode(await server.Ask("unknown.lan")));
            Assert.True(server.Map.TryGetDomain(NetAddress.Parse("192.0.2.5"), out string domain));
            Assert.Equal("printer.lan", domain);
            Assert.Equal([IPAddressOf("192.0.2.6")], await server.ResolveForEngineWith("nas.lan"));
        }
        finally
        {
            File.Delete(file);
        }

        static System.Net.IPAddress IPAddressOf(string s) => System.Net.IPAddress.Parse(s);
    }

    [Fact]
    public async Task Map_IsFedByRealAnswers_WithTheQuestionName()
    {
        await using var up = new DnsResponder(q => Msg.Response(q.Raw,
            Msg.Record(q.Name, DnsType.CNAME, 300, Msg.Name("edge.cdn.example")),
            Msg.A("edge.cdn.example", "203.0.113.7", 300),
            Msg.A("edge.cdn.example", "203.0.113.8", 300)));
        await using var server = DnsKit.Server(new DnsOptions { Servers = [DnsKit.Udp("up", up)] });

        await server.Ask("www.shop.example");

        Assert.True(server.Map.TryGetDomain(NetAddress.Parse("203.0.113.7"), out string domain));
        Assert.Equal("www.shop.example", domain);
        Assert.True(server.Map.TryGetDomain(NetAddress.Parse("203.0.113.8"), out domain));
        Assert.False(server.Map.IsFakeIp(NetAddress.Parse("203.0.113.7")));
        Assert.False(server.Map.TryGetDomain(NetAddress.Parse("203.0.113.9"), out _));
    }

    [Fact]
    public async Task ReverseMappingOff_LeavesTheMapEmpty()
    {
        await using var up = new DnsResponder();
        await using var server = DnsKit.Server(new DnsOptions { Servers = [DnsKit.Udp("up", up)], ReverseMapping = false });
        await server.Ask("www.example");
        Assert.False(server.Map.TryGetDomain(NetAddress.Parse("192.0.2.10"), out _));
    }
}

internal static class DnsServerTestExtensions
{
    public static async Task<List<System.Net.IPAddress>> ResolveForEngineWith(this DnsServer server, string host) =>
        (await server.ResolveWithAsync(0, host, CancellationToken.None)).ToList();
}
