using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// A direct outbound's <c>domain_strategy</c> (sing-box's deprecated dial field, in most exported configs) picks the
/// address of a name it dials: a fakeip TCP flow (the app only ever saw a fake IPv4 address) and a mixed inbound
/// request that names its destination. dnsmasq on the router answers the name with the web server's IPv4 and IPv6
/// addresses; the server's /whoami says which of the client's addresses the connection came from.
/// </summary>
public sealed class DirectDomainStrategyTests : IDisposable
{
    private const string Name = "dual.example";
    private const int MixedPort = 2080;
    private static readonly TimeSpan Curl = TimeSpan.FromSeconds(40);
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();

    public DirectDomainStrategyTests()
    {
        new DnsPeers(_testbed).StartDnsmasq(NamespaceTestbed.RouterV4, 53, $"/{Name}/{NamespaceTestbed.ServerV4}", $"/{Name}/{NamespaceTestbed.ServerV6}");
        // Apps ask the router (hijacked to Sluice's fakeip server); the engine's host resolver (the mixed inbound's names) asks the same dnsmasq.
        _testbed.SetResolvConf(_testbed.Client, $"nameserver {NamespaceTestbed.RouterV4}\n");
    }

    private EngineProcess StartEngine(string strategyField)
    {
        string config = $$"""
            {
              "log": {"level": "info"},
              "inbounds": [{"type": "tun", "tag": "tun-in", "interface_name": "sluice0", "address": ["172.19.0.1/30"], "auto_route": true},
                           {"type": "mixed", "tag": "mixed-in", "listen": "127.0.0.1", "listen_port": {{MixedPort}}}],
              "dns": {"servers": [{"type": "fakeip", "tag": "fake", "inet4_range": "198.18.0.0/15"},
                                  {"type": "udp", "tag": "lan", "server": "{{NamespaceTestbed.RouterV4}}"}],
                      "rules": [{"query_type": ["A", "AAAA"], "server": "fake"}], "final": "lan"},
              "outbounds": [{"type": "direct", "tag": "direct"{{strategyField}}}],
              "route": {"default_domain_resolver": "lan", "rules": [{"port": 53, "action": "hijack-dns"}], "final": "direct"}
            }
            """;
        var engine = _testbed.StartEngine(config).WaitStarted();
        string fake = _testbed.RunInClient(Curl, "dig", "+short", "+time=3", "+tries=1", Name).Stdout.Trim();
        Assert.True(fake.StartsWith("198.1", StringComparison.Ordinal), $"{Name} got \"{fake}\", not a fake address\n{engine.Log}");
        return engine;
    }

    private ExecResult ViaTun() =>
        _testbed.RunInClient(Curl, "curl", "-4", "-sS", "--max-time", "10", $"http://{Name}:{NamespaceTestbed.HttpPort}/whoami");

    private ExecResult ViaMixed() =>
        _testbed.RunInClient(Curl, "curl", "-sS", "--max-time", "10", "--socks5-hostname", $"127.0.0.1:{MixedPort}", $"http://{Name}:{NamespaceTestbed.HttpPort}/whoami");

    [Theory]
    [InlineData("", NamespaceTestbed.ClientV4)]
    [InlineData(""", "domain_strategy": "prefer_ipv4" """, NamespaceTestbed.ClientV4)]
    [InlineData(""", "domain_strategy": "ipv6_only" """, NamespaceTestbed.ClientV6)]
    [InlineData(""", "domain_strategy": "prefer_ipv6" """, NamespaceTestbed.ClientV6)]
    public void DirectOutbound_DialsTheAddressItsDomainStrategyPicks_ForFakeIpFlowsAndNamedRequests(string strategyField, string expectedSource)
    {
        var engine = StartEngine(strategyField);

        var tun = ViaTun();
        var mixed = ViaMixed();

        Assert.True(tun.Ok, tun + "\n" + engine.Log);
        Assert.Equal(expectedSource, tun.Stdout.Trim());
        Assert.True(mixed.Ok, mixed + "\n" + engine.Log);
        Assert.Equal(expectedSource, mixed.Stdout.Trim());
    }

    public void Dispose() => _testbed.Dispose();
}
