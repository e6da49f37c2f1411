using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// The route action <c>resolve</c>: an app reaches a name through a fake address; the resolve rule looks the name up
/// (a real dnsmasq on the router), and an <c>ip_cidr</c> rule after it matches the address found, sending the flow
/// through a SOCKS proxy. The target (<see cref="NamespaceTestbed.HiddenV4"/>) drops what comes from the client
/// directly, so an answer proves the proxy lane carried the bytes.
/// </summary>
public sealed class ResolveActionTests : IDisposable
{
    private const string Secret = "secret.example";   // dnsmasq: the hidden server's address
    private const string Plain = "plain.example";     // dnsmasq: the ordinary server's address
    private static readonly TimeSpan Curl = TimeSpan.FromSeconds(40);
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();

    public ResolveActionTests()
    {
        _testbed.AddHiddenServer();
        new DnsPeers(_testbed).StartDnsmasq(NamespaceTestbed.RouterV4, 53, $"/{Secret}/{NamespaceTestbed.HiddenV4}", $"/{Plain}/{NamespaceTestbed.ServerV4}");
        // Apps ask the router (hijacked to Sluice's fake-IP server); microsocks resolves the names it is handed with the same dnsmasq.
        _testbed.SetResolvConf(_testbed.Client, $"nameserver {NamespaceTestbed.RouterV4}\n");
        _testbed.SetResolvConf(_testbed.Router, $"nameserver {NamespaceTestbed.RouterV4}\n");
        ProxyPeers.StartMicrosocks(_testbed);
    }

    private EngineProcess StartEngine(string resolveRule)
    {
        string rules = $$"""
            {"port": 53, "action": "hijack-dns"},
            {{resolveRule}}
            {"ip_cidr": "{{NamespaceTestbed.HiddenV4}}/32", "outbound": "socks"}
            """;
        string config = ProxyPeers.TunConfig(ProxyPeers.Socks("socks", ProxyPeers.MicrosocksPort, ProxyPeers.User, ProxyPeers.Password), final: "direct", rules)
            .Replace("\"route\": {", $$"""
                "dns": {"servers": [
                   {"type": "fakeip", "tag": "fake", "inet4_range": "198.18.0.0/15"},
                   {"type": "udp", "tag": "lan", "server": "{{NamespaceTestbed.RouterV4}}"}],
                 "rules": [{"query_type": ["A", "AAAA"], "server": "fake"}], "final": "lan"},
                "route": {"default_domain_resolver": "lan", 
                """);
        var engine = _testbed.StartEngine(config).WaitStarted();
        string fake = _testbed.RunInClient(Curl, "dig", "+short", "+time=3", "+tries=1", Secret).Stdout.Trim();
        Assert.True(fake.StartsWith("198.1", StringComparison.Ordinal), $"{Secret} got \"{fake}\", not a fake address\n{engine.Log}");
        return engine;
    }

    private ExecResult Whoami(string name) =>
        _testbed.RunInClient(Curl, "curl", "-sS", "--max-time", "10", $"http://{name}:{NamespaceTestbed.HttpPort}/whoami");

    [Fact]
    public void ResolveRule_LetsAnIpCidrRuleMatchTheNamesRealAddress_ProxyCarriesTheFlow()
    {
        var engine = StartEngine($$"""{"domain_suffix": "example", "action": "resolve", "server": "lan"},""");

        var secret = Whoami(Secret);
        var plain = Whoami(Plain);

        // The hidden server answered: only the proxy in the router namespace can reach it.
        Assert.True(secret.Ok, secret + "\n" + engine.Log);
        Assert.NotEqual(NamespaceTestbed.ClientV4, secret.Stdout.Trim());
        Assert.True(engine.WaitFor("=> socks", TimeSpan.FromSeconds(5)), engine.Log);
        Assert.Contains(engine.Lines, l => l.Contains(Secret, StringComparison.Ordinal) && l.Contains("=> socks", StringComparison.Ordinal));
        // The other name resolved to an address no IP rule names: direct, seen from the client's own address.
        Assert.True(plain.Ok, plain + "\n" + engine.Log);
        Assert.Equal(NamespaceTestbed.ClientV4, plain.Stdout.Trim());
        Assert.DoesNotContain(engine.Lines, l => l.Contains(Plain, StringComparison.Ordinal) && l.Contains("=> socks", StringComparison.Ordinal));
    }

    [Fact]
    public void WithoutTheResolveRule_TheIpCidrRuleSeesOnlyTheFakeAddress_AndTheFlowGoesDirect()
    {
        // Control: the same config minus the resolve rule; the fake address matches no ip_cidr, so the flow goes direct and the hidden server drops it.
        var engine = StartEngine("");

        var secret = Whoami(Secret);

        Assert.False(secret.Ok, "reached the hidden server without the resolve rule: " + secret + "\n" + engine.Log);
        Assert.True(engine.WaitFor("=> direct", TimeSpan.FromSeconds(5)), engine.Log);
        Assert.Contains(engine.Lines, l => l.Contains(Secret, StringComparison.Ordinal) && l.Contains("=> direct", StringComparison.Ordinal));
        Assert.DoesNotContain(engine.Lines, l => l.Contains(Secret, StringComparison.Ordinal) && l.Contains("=> socks", StringComparison.Ordinal));
    }

    public void Dispose() => _testbed.Dispose();
}
