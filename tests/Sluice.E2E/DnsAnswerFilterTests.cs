using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// The geoip-cn idiom against two real dnsmasq upstreams that answer differently: a DNS rule with an ip_cidr rule set
/// sends the question to "local" first and keeps its answer only when the address is in the set; otherwise the
/// question goes to "remote" and the app gets remote's answer.
/// </summary>
public sealed class DnsAnswerFilterTests : IDisposable
{
    private const string Local = NamespaceTestbed.RouterV4;
    private const int RemotePort = 5353;
    private const string LocalCn = NamespaceTestbed.ServerV4;       // 203.0.113.10: inside the set
    private const string LocalAbroad = NamespaceTestbed.HiddenV4;   // 198.51.100.10: outside it
    private const string RemoteCn = "192.0.2.55";
    private const string RemoteAbroad = "192.0.2.66";
    private static readonly TimeSpan Dig = TimeSpan.FromSeconds(20);
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();
    private readonly DnsPeers _dns;

    public DnsAnswerFilterTests()
    {
        _testbed.SetResolvConf(_testbed.Client, $"nameserver {Local}\n");
        _dns = new DnsPeers(_testbed);
        _dns.StartDnsmasq(Local, 53, $"/cn.example/{LocalCn}", $"/abroad.example/{LocalAbroad}");
        _dns.StartDnsmasq(Local, RemotePort, $"/cn.example/{RemoteCn}", $"/abroad.example/{RemoteAbroad}");
        // The readiness probes asked cn.example of both: only what came after counts.
        _before = [_dns.QueriesSeenBy(Local, 53).Count, _dns.QueriesSeenBy(Local, RemotePort).Count];
    }

    private readonly int[] _before;

    private EngineProcess StartEngine(string dnsRules) =>
        _testbed.StartEngine(EngineConfigs.Tun("""{"port": 53, "action": "hijack-dns"}""").Replace("\"route\": {", $$"""
            "dns": {
              "servers": [
                {"type": "udp", "tag": "local", "server": "{{Local}}"},
                {"type": "udp", "tag": "remote", "server": "{{Local}}", "server_port": {{RemotePort}}}],
              "rules": [{{dnsRules}}],
              "final": "remote"},
            "route": {"rule_set": [{"type": "inline", "tag": "geoip-cn", "rules": [{"ip_cidr": ["203.0.113.0/24"]}]}],
            """)).WaitStarted();

    private string Lookup(string name) => _testbed.RunInClient(Dig, "dig", "+short", "+time=3", "+tries=1", name).Stdout.Trim();

    private int QueriesFor(int port, string name) =>
        _dns.QueriesSeenBy(Local, port).Skip(_before[port == 53 ? 0 : 1]).Count(l => l.Contains($"query[A] {name} ", StringComparison.Ordinal));

    [Fact]
    public void GeoipRule_KeepsLocalAnswersInsideTheSet_AndAsksRemoteForTheRest()
    {
        var engine = StartEngine("""{"rule_set": "geoip-cn", "server": "local"}""");

        string cn = Lookup("cn.example");
        string abroad = Lookup("abroad.example");

        Assert.True(cn == LocalCn, $"cn.example: \"{cn}\"\n{engine.Log}");
        Assert.True(abroad == RemoteAbroad, $"abroad.example: \"{abroad}\"\n{engine.Log}");
        // local was asked both names (its answer for abroad.example was set aside); remote only the one local could not keep.
        Assert.Equal((1, 1), (QueriesFor(53, "cn.example"), QueriesFor(53, "abroad.example")));
        Assert.Equal((0, 1), (QueriesFor(RemotePort, "cn.example"), QueriesFor(RemotePort, "abroad.example")));
    }

    [Fact]
    public void WithoutTheGeoipRule_EveryNameGetsRemotesAnswer()
    {
        // Control: the upstreams really differ, so the answer the app gets names the server that gave it.
        var engine = StartEngine("");

        Assert.True(Lookup("cn.example") == RemoteCn, engine.Log);
        Assert.True(Lookup("abroad.example") == RemoteAbroad, engine.Log);
        Assert.Equal(0, QueriesFor(53, "cn.example") + QueriesFor(53, "abroad.example"));
    }

    public void Dispose() => _testbed.Dispose();
}
