using System.Text.Json;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// The dashboards' DNS tools on the daemon's Clash API: /dns/query answers what the engine's DNS server answers (here
/// a real dnsmasq upstream, whose own answers `dig` reads for comparison), and /cache/dns/flush makes the next query
/// ask the upstream again.
/// </summary>
public sealed class ClashDnsApiTests : IDisposable
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(30);
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();
    private readonly string _queryLog;

    public ClashDnsApiTests()
    {
        _queryLog = Path.Combine(_testbed.WorkDir, "dnsmasq.log");
        _testbed.StartIn(_testbed.Router, "dnsmasq", "--keep-in-foreground", "--user=root", "--no-resolv", "--no-hosts", "--bind-interfaces",
            $"--listen-address={NamespaceTestbed.RouterV4}", "--local-ttl=300", "--log-queries", $"--log-facility={_queryLog}",
            $"--pid-file={Path.Combine(_testbed.WorkDir, "dnsmasq.pid")}",
            "--local=/lab.test/", "--host-record=www.lab.test,192.0.2.80,2001:db8::80",
            "--mx-host=lab.test,mail.lab.test,10", "--txt-record=lab.test,\"hello world\",second",
            "--srv-host=_sip._udp.lab.test,sip.lab.test,5060,0,5", "--cname=alias.lab.test,www.lab.test");
        for (int i = 0; i < 50 && !Dig("www.lab.test", "A").Contains("192.0.2.80", StringComparison.Ordinal); i++) Thread.Sleep(100);
    }

    /// <summary>dnsmasq's own answer, straight from the router namespace (no Sluice), as `dig +short` prints it.</summary>
    private string Dig(string name, string type) =>
        _testbed.RunInRouter(TimeSpan.FromSeconds(10), "dig", "+short", "+time=2", "+tries=1", $"@{NamespaceTestbed.RouterV4}", name, type).Stdout.Trim();

    private int UpstreamQueries(string name) =>
        File.ReadAllLines(_queryLog).Count(l => l.Contains($"] {name} from {NamespaceTestbed.ClientV4}", StringComparison.Ordinal));

    private DaemonUnderTest StartDaemon()
    {
        var daemon = DaemonUnderTest.Start(_testbed);
        daemon.Core("up", $$$"""
            {"config": {
              "log": {"level": "info"},
              "inbounds": [{"type": "mixed", "tag": "mixed-in", "listen": "127.0.0.1", "listen_port": 2080}],
              "dns": {"servers": [{"type": "udp", "tag": "lab", "server": "{{{NamespaceTestbed.RouterV4}}}"}]},
              "outbounds": [{"type": "direct", "tag": "direct"}]}}
            """);
        return daemon;
    }

    [Theory]
    [InlineData("www.lab.test", "A", 1)]
    [InlineData("www.lab.test", "aaaa", 28)]
    [InlineData("lab.test", "MX", 15)]
    [InlineData("lab.test", "TXT", 16)]
    [InlineData("_sip._udp.lab.test", "SRV", 33)]
    public void DnsQuery_AnswersWhatTheUpstreamAnswers_InMihomosShape(string name, string type, int typeCode)
    {
        var daemon = StartDaemon();
        string expected = Dig(name, type);
        Assert.NotEqual("", expected);

        var answer = daemon.Get($"/dns/query?name={name}&type={type}");

        Assert.Equal(0, answer.GetProperty("Status").GetInt32());
        Assert.True(answer.GetProperty("RD").GetBoolean());
        var question = Assert.Single(answer.GetProperty("Question").EnumerateArray().ToList());
        Assert.Equal(name + ".", question.GetProperty("Name").GetString());
        Assert.Equal(typeCode, question.GetProperty("Qtype").GetInt32());
        var records = answer.GetProperty("Answer").EnumerateArray().ToList();
        Assert.All(records, r => Assert.Equal(name + ".", r.GetProperty("name").GetString()));
        Assert.All(records, r => Assert.Equal(typeCode, r.GetProperty("type").GetInt32()));
        Assert.All(records, r => Assert.InRange(r.GetProperty("TTL").GetInt64(), 1, 300));
        Assert.Equal(expected.Split('\n').Order(StringComparer.Ordinal), records.Select(r => r.GetProperty("data").GetString()!).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void DnsQuery_OfACname_ListsTheChain_AndAnUnknownName_IsNxdomain_AndBadInputIs400()
    {
        var daemon = StartDaemon();

        var alias = daemon.Get("/dns/query?name=alias.lab.test");
        var records = alias.GetProperty("Answer").EnumerateArray().Select(r => (r.GetProperty("type").GetInt32(), r.GetProperty("data").GetString())).ToList();
        Assert.Equal([(5, "www.lab.test."), (1, "192.0.2.80")], records);
        Assert.Equal(Dig("alias.lab.test", "A").Split('\n'), records.Select(r => r.Item2));

        var missing = daemon.Get("/dns/query?name=nowhere.lab.test&type=A");
        Assert.Equal(3, missing.GetProperty("Status").GetInt32()); // NXDOMAIN
        Assert.False(missing.TryGetProperty("Answer", out _));

        Assert.Equal("400", daemon.Unix("-o", "/dev/null", "-w", "%{http_code}", "http://localhost/dns/query?name=www.lab.test&type=NOPE").Stdout.Trim());
        Assert.Equal("400", daemon.Unix("-o", "/dev/null", "-w", "%{http_code}", "http://localhost/dns/query").Stdout.Trim());
        Assert.Equal("400", daemon.Unix("-o", "/dev/null", "-w", "%{http_code}", "http://localhost/dns/query?name=bad%20name.test").Stdout.Trim());
    }

    [Fact]
    public void FlushingTheDnsCache_MakesTheNextQueryAskTheUpstreamAgain()
    {
        var daemon = StartDaemon();

        daemon.Get("/dns/query?name=www.lab.test");
        daemon.Get("/dns/query?name=www.lab.test");
        int cached = UpstreamQueries("www.lab.test");
        var flush = daemon.Unix("-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "http://localhost/cache/dns/flush");
        daemon.Get("/dns/query?name=www.lab.test");
        int afterFlush = UpstreamQueries("www.lab.test");

        Assert.Equal(1, cached); // the second query was answered from the cache (A only: dnsmasq logs each type)
        Assert.Equal("204", flush.Stdout.Trim());
        Assert.Equal(2, afterFlush);
    }

    public void Dispose() => _testbed.Dispose();
}
