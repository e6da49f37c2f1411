using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// A proxy server given by a name that only a DNS server in Sluice's config knows: dnsmasq in the
/// router namespace answers it (A: the router's IPv4 address, AAAA: its IPv6 one; ss-server listens on the IPv4 one),
/// while the client's resolv.conf names a resolver that does not exist.
/// </summary>
public sealed class ProxyDomainResolverTests : IDisposable
{
    private const string ServerName = "ss.lab.test";
    private const string Method = "aes-256-gcm";
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(90);
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();
    private readonly string _queryLog;

    public ProxyDomainResolverTests()
    {
        _testbed.AddHiddenServer();
        // `ip netns exec` bind-mounts /etc/netns/<ns>/resolv.conf: the host's resolver in the client
        // (and Sluice's "local" server) asks 127.0.0.1, where nothing answers.
        _testbed.SetResolvConf(_testbed.Client, "nameserver 127.0.0.1\n");
        _queryLog = Path.Combine(_testbed.WorkDir, "dnsmasq.log");
        _testbed.StartIn(_testbed.Router, "dnsmasq", "--keep-in-foreground", "--user=root", "--no-resolv", "--no-hosts", "--bind-interfaces",
            $"--listen-address={NamespaceTestbed.RouterV4}", $"--address=/{ServerName}/{NamespaceTestbed.RouterV4}", $"--address=/{ServerName}/{NamespaceTestbed.RouterV6}", "--local-ttl=300",
            "--log-queries", $"--log-facility={_queryLog}", $"--pid-file={Path.Combine(_testbed.WorkDir, "dnsmasq.pid")}");
        bool answered = false;
        for (int i = 0; i < 50 && !answered; i++)
        {
            var probe = _testbed.RunInRouter(TimeSpan.FromSeconds(5), "dig", "+short", "+time=1", "+tries=1", $"@{NamespaceTestbed.RouterV4}", "probe." + ServerName);
            answered = probe.Ok && probe.Stdout.Trim() == NamespaceTestbed.RouterV4;
            if (!answered) Thread.Sleep(100);
        }
        if (!answered) throw new InvalidOperationException("dnsmasq in the router namespace never answered its probe query");
        ProxyPeers.StartShadowsocks(_testbed, Method);
    }

    private static string Config(string resolverField, string route = "") => $$"""
        {
          "log": {"level": "info"},
          "inbounds": [{"type": "tun", "tag": "tun-in", "interface_name": "sluice0", "address": ["172.19.0.1/30"], "auto_route": true}],
          "dns": {"servers": [{"type": "udp", "tag": "lab", "server": "{{NamespaceTestbed.RouterV4}}"}, {"type": "local", "tag": "local"}]},
          "outbounds": [{{ProxyPeers.Shadowsocks("ss", Method, server: ServerName).Replace("}", resolverField + "}")}}, {"type": "direct", "tag": "direct"}],
          "route": {"final": "ss"{{route}}}
        }
        """;

    /// <summary>
    /// Queries dnsmasq logged for the server name. The log must exist and hold the constructor's probe
    /// query, so "0 queries" always means dnsmasq was listening and logging, not that nobody looked.
    /// </summary>
    private int QueriesFor(string type)
    {
        if (!File.Exists(_queryLog)) throw new InvalidOperationException($"dnsmasq's query log {_queryLog} does not exist: the oracle is blind");
        var lines = File.ReadAllLines(_queryLog);
        if (!lines.Any(l => l.Contains($"query[A] probe.{ServerName}", StringComparison.Ordinal)))
            throw new InvalidOperationException("dnsmasq's query log lacks the start-up probe query: it is not logging what it answers");
        return lines.Count(l => l.Contains($"query[{type}] {ServerName}", StringComparison.Ordinal));
    }

    [Fact]
    public void ServerName_ResolvedByDomainResolver_Connects_AndIsAskedOncePerTtl()
    {
        var engine = _testbed.StartEngine(Config(""", "domain_resolver": "lab" """)).WaitStarted();

        var first = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "20", ProxyPeers.HiddenUrl());
        var second = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "20", ProxyPeers.HiddenUrl());

        Assert.True(first.Ok, first + "\n" + engine.Log);
        Assert.True(second.Ok, second + "\n" + engine.Log);
        Assert.Equal(NamespaceTestbed.HiddenV4, second.Stdout.Trim());
        // Two connections, one lookup: the answer (TTL 300) is kept.
        Assert.Equal(1, QueriesFor("A"));
    }

    [Fact]
    public void ServerName_ResolvedByDefaultDomainResolver_WhenTheOutboundNamesNone()
    {
        var engine = _testbed.StartEngine(Config("", route: """, "default_domain_resolver": "lab" """)).WaitStarted();

        var result = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "20", ProxyPeers.HiddenUrl());

        Assert.True(result.Ok, result + "\n" + engine.Log);
        Assert.Equal(NamespaceTestbed.HiddenV4, result.Stdout.Trim());
        Assert.True(QueriesFor("A") >= 1);
    }

    /// <summary>Without a resolver the name goes to the host's nameservers (resolv.conf: 127.0.0.1, where nothing answers), asked through the engine's own sockets under auto_route.</summary>
    [Fact]
    public void ServerName_WithoutResolver_AsksTheHostsNameservers_AndFailsWithAReason()
    {
        var engine = _testbed.StartEngine(Config("")).WaitStarted();

        var result = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "30", ProxyPeers.HiddenUrl());

        Assert.False(result.Ok, result.ToString());
        Assert.True(engine.WaitFor($"(ss.lab.test:{ProxyPeers.ShadowsocksPort(Method)}): cannot resolve {ServerName} with DNS server local", TimeSpan.FromSeconds(15)), engine.Log);
        Assert.Equal(0, QueriesFor("A"));
    }

    /// <summary>
    /// domain_resolver strategy ipv6_only dials the name's IPv6 address: refused while only the IPv4 listener exists
    /// (the error names the IPv6 address), carried once a second ss-server listens on the IPv6 one.
    /// </summary>
    [Theory]
    [InlineData(""", "domain_resolver": {"server": "lab", "strategy": "ipv6_only"} """)]
    [InlineData(""", "domain_resolver": "lab", "domain_strategy": "ipv6_only" """)] // sing-box's deprecated form, in most exported configs
    public void ServerName_WithStrategyIpv6Only_IsDialedAtItsIpv6Address(string resolverFields)
    {
        var engine = _testbed.StartEngine(Config(resolverFields)).WaitStarted();

        var refused = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "20", ProxyPeers.HiddenUrl());
        Assert.False(refused.Ok, "carried with no listener on the IPv6 address: " + refused);
        Assert.True(engine.WaitFor(NamespaceTestbed.RouterV6, TimeSpan.FromSeconds(10)), engine.Log);

        ProxyPeers.StartShadowsocks(_testbed, Method, address: NamespaceTestbed.RouterV6);
        // The port already listens on IPv4, so wait for the IPv6 socket itself.
        for (int i = 0; i < 100 && !_testbed.RunInRouter(TimeSpan.FromSeconds(5), "sh", "-c",
                 $"ss -Hltn 'src [{NamespaceTestbed.RouterV6}]:{ProxyPeers.ShadowsocksPort(Method)}' | grep -q LISTEN").Ok; i++)
            Thread.Sleep(100);
        var carried = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "20", ProxyPeers.HiddenUrl());
        Assert.True(carried.Ok, carried + "\n" + engine.Log);
        Assert.Equal(NamespaceTestbed.HiddenV4, carried.Stdout.Trim());
        Assert.True(QueriesFor("AAAA") >= 1);
    }

    /// <summary>
    /// No domain_resolver anywhere, and the TUN auto-routes the host with a fakeip server for every A query (a common
    /// mobile-style config): the server name is the host's to resolve, but getaddrinfo's unmarked query would enter the
    /// engine's own TUN and come back fake. It is asked through the engine's own DNS sockets (resolv.conf's nameserver,
    /// the dnsmasq here), so the real address is dialed.
    /// </summary>
    [Fact]
    public void ServerName_WithoutResolver_UnderAutoRouteAndFakeIp_IsDialedAtItsRealAddress()
    {
        _testbed.SetResolvConf(_testbed.Client, $"nameserver {NamespaceTestbed.RouterV4}\n");
        string config = $$"""
            {
              "log": {"level": "info"},
              "inbounds": [{"type": "tun", "tag": "tun-in", "interface_name": "sluice0", "address": ["172.19.0.1/30"], "auto_route": true}],
              "dns": {"servers": [{"type": "fakeip", "tag": "fake", "inet4_range": "198.18.0.0/15"}, {"type": "local", "tag": "local"}],
                      "rules": [{"query_type": ["A", "AAAA"], "server": "fake"}], "final": "local"},
              "outbounds": [{{ProxyPeers.Shadowsocks("ss", Method, server: ServerName)}}, {"type": "direct", "tag": "direct"}],
              "route": {"rules": [{"port": 53, "action": "hijack-dns"}], "final": "ss"}
            }
            """;
        var engine = _testbed.StartEngine(config).WaitStarted();

        var result = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "20", ProxyPeers.HiddenUrl());

        Assert.True(result.Ok, result + "\n" + engine.Log);
        Assert.Equal(NamespaceTestbed.HiddenV4, result.Stdout.Trim());
        Assert.True(QueriesFor("A") >= 1); // asked of dnsmasq itself, not answered by the fakeip server
    }

    public void Dispose()
    {
        _testbed.Dispose();
    }
}
