using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// The DNS listener as the system's resolver (resolv.conf names it, no TUN): glibc's stub, which asks A and AAAA
/// in parallel on one UDP socket without EDNS and retries over TCP when an answer comes back truncated, and knot's
/// kdig sending several queries on one TCP connection. The upstream is dnsmasq in the router namespace.
/// </summary>
public sealed class DnsListenerClientTests : IDisposable
{
    private static readonly TimeSpan Client = TimeSpan.FromSeconds(20);
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();

    [Fact]
    public void Glibc_AndKdig_ResolveThroughTheListener_LargeAnswersOverTcp()
    {
        // 40 A records do not fit in 512 bytes: glibc gets TC over UDP and must ask again over TCP to see them all.
        string[] v4 = [.. Enumerable.Range(1, 40).Select(i => $"10.9.0.{i}")];
        string conf = Path.Combine(_testbed.WorkDir, "dnsmasq.conf");
        File.WriteAllLines(conf, [
            "no-resolv", "no-hosts", "bind-interfaces", "local=/example/", $"listen-address={NamespaceTestbed.RouterV4}",
            .. v4.Select(a => $"host-record=many.example,{a}"), "host-record=many.example,fd00:99::1",
            "host-record=one.example,10.9.1.1", "host-record=two.example,10.9.1.2",
        ]);
        _testbed.StartIn(_testbed.Router, "dnsmasq", "--keep-in-foreground", "--user=root", $"--conf-file={conf}", $"--pid-file={Path.Combine(_testbed.WorkDir, "dnsmasq.pid")}");
        ProxyPeers.WaitListening(_testbed, 53);
        _testbed.SetResolvConf(_testbed.Client, "nameserver 127.0.0.1\noptions timeout:3 attempts:2\n");
        var engine = _testbed.StartEngine($$"""
            {
              "log": {"level": "info"},
              "inbounds": [{"type": "direct", "tag": "dns-in", "listen": "127.0.0.1", "listen_port": 53}],
              "dns": {"servers": [{"type": "udp", "tag": "lan", "server": "{{NamespaceTestbed.RouterV4}}"}], "final": "lan"},
              "outbounds": [{"type": "direct", "tag": "direct"}],
              "route": {"rules": [{"inbound": "dns-in", "action": "hijack-dns"}], "final": "direct"}
            }
            """).WaitStarted();

        var glibc = _testbed.RunInClient(Client, "getent", "ahosts", "many.example");
        var kdig = _testbed.RunInClient(Client, "kdig", "@127.0.0.1", "+tcp", "+keepopen", "+short", "one.example", "two.example", "many.example", "AAAA");

        Assert.True(glibc.Ok, glibc + "\n" + engine.Log);
        var addresses = glibc.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.Contains("STREAM")).Select(l => l.Split(' ')[0]).ToHashSet();
        Assert.Equal([.. v4.Append("fd00:99::1").Order(StringComparer.Ordinal)], addresses.Order(StringComparer.Ordinal));
        Assert.True(kdig.Ok, kdig + "\n" + engine.Log);
        Assert.Equal(["10.9.1.1", "10.9.1.2", "fd00:99::1"], kdig.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    public void Dispose() => _testbed.Dispose();
}
