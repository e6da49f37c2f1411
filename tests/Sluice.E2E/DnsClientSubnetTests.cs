using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// client_subnet (RFC 7871 EDNS Client Subnet) on the wire: Sluice's upstream queries to a real dnsmasq on the
/// router, captured on the client's physical link, carry the option with the prefix the config names — the
/// rule's over the server's over the dns section's — and carry none when the config names no prefix.
/// </summary>
public sealed class DnsClientSubnetTests : IDisposable
{
    private const string Upstream = NamespaceTestbed.RouterV4;
    private static readonly TimeSpan Dig = TimeSpan.FromSeconds(20);
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();

    public DnsClientSubnetTests()
    {
        // Apps ask the router; the TUN hijacks that to Sluice, so what crosses eth0 on port 53 is Sluice's own upstream query.
        _testbed.SetResolvConf(_testbed.Client, $"nameserver {Upstream}\n");
        new DnsPeers(_testbed).StartDnsmasq(Upstream, 53, $"/server.example/{NamespaceTestbed.ServerV4}", $"/rule.example/{NamespaceTestbed.ServerV4}",
            $"/global.example/{NamespaceTestbed.ServerV4}");
    }

    private EngineProcess StartEngine(string dns) =>
        _testbed.StartEngine(EngineConfigs.Tun("""{"port": 53, "action": "hijack-dns"}""").Replace("\"route\":", $"\"dns\": {dns},\n  \"route\":")).WaitStarted();

    /// <summary>Looks each name up through Sluice while tshark watches eth0; returns the capture (stopped when read).</summary>
    private WireCapture LookUpWhileCapturing(EngineProcess engine, params string[] names)
    {
        var capture = new WireCapture(_testbed, "ecs", captureFilter: "port 53");
        foreach (string name in names)
        {
            var answer = _testbed.RunInClient(Dig, "dig", "+short", "+time=3", "+tries=1", name);
            Assert.True(answer.Stdout.Trim() == NamespaceTestbed.ServerV4, $"{name}: {answer}\n{engine.Log}");
        }
        Thread.Sleep(300);
        return capture;
    }

    private static string Query(string name) => $"ip.dst == {Upstream} && udp.dstport == 53 && dns.flags.response == 0 && dns.qry.name == \"{name}\"";

    [Fact]
    public void UpstreamQueries_CarryTheConfiguredSubnet_RuleOverServerOverGlobal()
    {
        var engine = StartEngine($$"""
            {"servers": [
               {"type": "udp", "tag": "lan", "server": "{{Upstream}}", "client_subnet": "198.51.100.77/24"},
               {"type": "udp", "tag": "lan-plain", "server": "{{Upstream}}"}],
             "rules": [{"domain": "rule.example", "server": "lan", "client_subnet": "2001:db8:77::1/48"},
                       {"domain": "global.example", "server": "lan-plain"}],
             "client_subnet": "10.9.8.7/16",
             "final": "lan"}
            """);

        using var capture = LookUpWhileCapturing(engine, "server.example", "rule.example", "global.example");

        // Host bits cleared, the prefix length as written, one query per name (nothing retried without the option).
        string all = capture.Describe(Query("server.example") + " || " + Query("rule.example") + " || " + Query("global.example"));
        Assert.True(capture.Values(Query("server.example"), "dns.opt.client.addr4") is ["198.51.100.0"], all + "\n" + engine.Log);
        Assert.Equal(["24"], capture.Values(Query("server.example"), "dns.opt.client.netmask"));
        Assert.True(capture.Values(Query("rule.example"), "dns.opt.client.addr6") is ["2001:db8:77::"], all);
        Assert.Equal(["48"], capture.Values(Query("rule.example"), "dns.opt.client.netmask"));
        Assert.True(capture.Values(Query("global.example"), "dns.opt.client.addr4") is ["10.9.0.0"], all);
        Assert.Equal(["16"], capture.Values(Query("global.example"), "dns.opt.client.netmask"));
    }

    [Fact]
    public void WithoutClientSubnet_UpstreamQueriesCarryNoSubnetOption()
    {
        var engine = StartEngine($$"""{"servers": [{"type": "udp", "tag": "lan", "server": "{{Upstream}}"}], "final": "lan"}""");

        using var capture = LookUpWhileCapturing(engine, "server.example");

        // Positive control: the query itself is on the wire, so an option in it would have been seen.
        Assert.True(capture.Count(Query("server.example")) == 1, capture.Describe("dns") + "\n" + engine.Log);
        Assert.True(capture.Count(Query("server.example") + " && dns.opt.code == 8") == 0, capture.Describe("dns"));
    }

    public void Dispose() => _testbed.Dispose();
}
