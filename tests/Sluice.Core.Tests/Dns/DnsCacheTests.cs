using System.Diagnostics;
using Sluice.Core.Dns;
using Sluice.Core.Tests.WireGuard;
using Sluice.Packets;

namespace Sluice.Core.Tests.Dns;

public class DnsCacheTests
{
    [Fact]
    public async Task SecondIdenticalQuery_IsAnsweredFromCache_WithoutUpstreamPacket()
    {
        await using var upstream = new DnsResponder();
        await using var server = DnsKit.Server(new DnsOptions { Servers = [DnsKit.Udp("up", upstream)] });

        var first = await server.Ask(Msg.Query("www.example.org", id: 1));
        var second = await server.Ask(Msg.Query("WWW.Example.ORG", id: 2));

        Assert.Equal(1, upstream.Count);
        Assert.Equal(["192.0.2.10"], Msg.Addresses(first));
        Assert.Equal(["192.0.2.10"], Msg.Addresses(second));
        Assert.Equal(2, Msg.Id(second));
        Assert.Equal("WWW.Example.ORG", Msg.QuestionName(second)); // the client's own spelling comes back
        Assert.Equal(1, server.Statistics.CacheHits);
        Assert.Equal(1, server.Statistics.UpstreamQueriesTo("up"));
    }

    [Fact]
    public async Task CachedAnswer_CountsTtlDown_AndExpiryRefetches()
    {
        var clock = new FakeClock();
        await using var upstream = new DnsResponder(q => Msg.Response(q.Raw, Msg.A(q.Name, "192.0.2.10", 60)));
        await using var server = DnsKit.Server(new DnsOptions { Servers = [DnsKit.Udp("up", upstream)] }, clock);

        await server.Ask("ttl.example");
        clock.Advance(45);
        var cached = await server.Ask("ttl.example");
        Assert.Equal(15u, Msg.Answers(cached)[0].Ttl);
        Assert.Equal(1, upstream.Count);

        clock.Advance(16);
        var fresh = await server.Ask("ttl.example");
        Assert.Equal(2, upstream.Count);
        Assert.Equal(60u, Msg.Answers(fresh)[0].Ttl);
    }

    [Fact]
    public async Task HundredConcurrentIdenticalQueries_CauseOneUpstreamQuery()
    {
        await using var upstream = new DnsResponder { Delay = TimeSpan.FromMilliseconds(300) };
        await using var server = DnsKit.Server(new DnsOptions { Servers = [DnsKit.Udp("up", upstream)] });

        var answers = await Task.WhenAll(Enumerable.Range(0, 100).Select(i => Task.Run(() => server.Ask(Msg.Query("busy.example", id: (ushort)i)))));

        Assert.Equal(1, upstream.Count);
        Assert.All(answers, a => Assert.Equal(["192.0.2.10"], Msg.Addresses(a)));
        Assert.Equal(Enumerable.Range(0, 100).Select(i => (int)Msg.Id(answers[i])), Enumerable.Range(0, 100));
        Assert.Equal(99, server.Statistics.Coalesced);
    }

    [Fact]
    public async Task NxDomain_IsCachedForTheSoaMinimum()
    {
        var clock = new FakeClock();
        await using var upstream = new DnsResponder(q => Msg.Response(q.Raw, 3, [], [Msg.Soa("example", 300, 30)]));
        await using var server = DnsKit.Server(new DnsOptions { Servers = [DnsKit.Udp("up", upstream)] }, clock);

        var first = await server.Ask("missing.example");
        clock.Advance(29);
        var second = await server.Ask("missing.example");
        Assert.Equal(3, Msg.Rcode(first));
        Assert.Equal(3, Msg.Rcode(second));
        Assert.Equal(1, upstream.Count);
        Assert.Equal(1u, Msg.Answers(second, section: 2)[0].Ttl); // min(300, 30) - 29

        clock.Advance(2);
        await server.Ask("missing.example");
        Assert.Equal(2, upstream.Count);
    }

    [Fact]
    public async Task NoData_IsCachedForTheSoaMinimum_AndWithoutSoaNotAtAll()
    {
        bool withSoa = true;
        await using var upstream = new DnsResponder(q => Msg.Response(q.Raw, 0, [], withSoa ? [Msg.Soa("example", 60, 60)] : []));
        await using var server = DnsKit.Server(new DnsOptions { Servers = [DnsKit.Udp("up", upstream)] });

        await server.Ask("v4only.example", DnsType.AAAA);
        await server.Ask("v4only.example", DnsType.AAAA);
        Assert.Equal(1, upstream.Count);

        withSoa = false;
        await server.Ask("nosoa.example", DnsType.AAAA);
        await server.Ask("nosoa.example", DnsType.AAAA);
        Assert.Equal(3, upstream.Count);
    }

    [Fact]
    public async Task DisableCache_AsksUpstreamEveryTime()
    {
        await using var upstream = new DnsResponder();
        await using var server = DnsKit.Server(new DnsOptions { Servers = [DnsKit.Udp("up", upstream)], DisableCache = true });
        await server.Ask("a.example");
        await server.Ask("a.example");
        Assert.Equal(2, upstream.Count);
    }

    [Fact]
    public async Task Cache_IsPerServer_SoOneServersAnswerNeverServesAnother()
    {
        await using var plain = new DnsResponder(q => Msg.Response(q.Raw, Msg.A(q.Name, "198.51.100.66", 300)));
        await using var tunnel = new DnsResponder(q => Msg.Response(q.Raw, Msg.A(q.Name, "192.0.2.10", 300)));
        await using var server = DnsKit.Server(new DnsOptions
        {
            Servers = [DnsKit.Udp("plain", plain), DnsKit.Udp("tunnel", tunnel)],
            Rules = [new DefaultDnsRuleOptions { ProcessName = ["browser"], Action = new DnsRouteAction("tunnel") }],
            Final = "plain",
        });
        var browser = new DnsQuerier("tun-in", () => new Flows.ProcessInfo(1000, 42, "browser", "/usr/bin/browser"));

        Assert.Equal(["198.51.100.66"], Msg.Addresses(await server.Ask("video.example")));
        Assert.Equal(["192.0.2.10"], Msg.Addresses(await server.Ask("video.example", querier: browser)));
        Assert.Equal(1, plain.Count);
        Assert.Equal(1, tunnel.Count);
    }

    [Fact]
    public void Lru_EvictsTheLeastRecentlyUsed()
    {
        var cache = new DnsCache(2, TimeProvider.System);
        DnsAnswer Answer() => new(new byte[12], 12, [], 60, TimeProvider.System.GetTimestamp(), [], "x");
        cache.Store([1], Answer());
        cache.Store([2], Answer());
        Assert.True(cache.TryGet([1], out _, out _)); // 1 is now the most recent
        cache.Store([3], Answer());
        Assert.True(cache.TryGet([1], out _, out _));
        Assert.False(cache.TryGet([2], out _, out _));
        Assert.True(cache.TryGet([3], out _, out _));
    }

    [Fact]
    public async Task CacheHit_DoesNotAllocate()
    {
        await using var upstream = new DnsResponder();
        await using var server = DnsKit.Server(new DnsOptions { Servers = [DnsKit.Udp("up", upstream)] });
        var query = Msg.Query("hot.example", edns: true);
        var response = new byte[1232];
        await server.HandleAsync(query, response, DnsKit.Tun, 1232, CancellationToken.None);
        for (int i = 0; i < 100; i++) await server.HandleAsync(query, response, DnsKit.Tun, 1232, CancellationToken.None);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            var task = server.HandleAsync(query, response, DnsKit.Tun, 1232, CancellationToken.None);
            Assert.True(task.IsCompletedSuccessfully);
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 1000, $"{allocated} bytes allocated by 1000 cache hits");
        Assert.True(server.Map.TryGetDomain(NetAddress.Parse("192.0.2.10"), out string domain));
        Assert.Equal("hot.example", domain);
    }

    [Fact]
    public async Task UnreachableUpstream_GivesServFail_WithinTheTimeout()
    {
        // A port nobody listens on: the kernel answers ICMP port unreachable, which must not end the wait early or late.
        using var probe = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        probe.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        ushort deadPort = (ushort)((System.Net.IPEndPoint)probe.LocalEndPoint!).Port;
        probe.Dispose();
        await using var server = DnsKit.Server(new DnsOptions
        {
            Servers = [new RemoteDnsServerOptions("udp", "dead", "127.0.0.1", deadPort, null, null, null, null)],
            Timeout = TimeSpan.FromMilliseconds(400),
        });

        var watch = Stopwatch.StartNew();
        var answer = await server.Ask("dead.example");
        watch.Stop();

        Assert.Equal(2, Msg.Rcode(answer));
        Assert.InRange(watch.Elapsed, TimeSpan.FromMilliseconds(350), TimeSpan.FromMilliseconds(1500));
        Assert.Equal(1, server.Statistics.UpstreamFailures);
    }
}
