using System.Text.Json;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// experimental.cache_file across a daemon that is killed (SIGKILL, no goodbye) and started again:
/// store_fakeip keeps every fake address bound to its name, and the member picked in a selector through
/// the Clash API stays picked, and so does a url-test member pinned by hand. (The Clash mode surviving a restart is RuleSetTests.ClashMode_….)
/// Which lane a connection took is told by the address the HTTP server sees: the client's own when
/// direct, the server's own address when it came through ss-server in the router namespace.
/// </summary>
public sealed class CacheFileRestartTests : IDisposable
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(60);
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();

    public void Dispose() => _testbed.Dispose();

    private string Config(string cacheFile) => $$"""
        {
          "log": {"level": "info"},
          "dns": {
            "servers": [
              {"type": "fakeip", "tag": "fake", "inet4_range": "198.18.0.0/15"},
              {"type": "udp", "tag": "lan", "server": "{{NamespaceTestbed.RouterV4}}"}
            ],
            "rules": [{"query_type": ["A", "AAAA"], "server": "fake"}],
            "final": "lan"
          },
          "inbounds": [{ "type": "tun", "tag": "tun-in", "interface_name": "sluice0", "address": ["172.19.0.1/30"], "auto_route": true }],
          "outbounds": [
            {"type": "direct", "tag": "direct"},
            {{ProxyPeers.Shadowsocks("ss", "aes-128-gcm")}},
            {"type": "selector", "tag": "pick", "outbounds": ["direct", "ss"], "default": "direct"},
            {"type": "urltest", "tag": "auto", "outbounds": ["ss", "direct"], "interval": "1m"}
          ],
          "route": {
            "rules": [{"port": 53, "action": "hijack-dns"}, {"domain": ["auto.example"], "outbound": "auto"}],
            "final": "pick",
            "default_domain_resolver": "lan"
          },
          "experimental": {"cache_file": {"enabled": true, "path": "{{cacheFile}}", "store_fakeip": true} }
        }
        """;

    private DaemonUnderTest? _daemon;

    private string SourceSeenAt(string fakeAddress)
    {
        var result = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "10", $"http://{fakeAddress}:{NamespaceTestbed.HttpPort}/whoami");
        return result.Ok ? result.Stdout.Trim() : "failed: " + result + "\n" + _daemon?.Process.Log;
    }

    private void AssertSeen(string expected, string fakeAddress)
    {
        string seen = SourceSeenAt(fakeAddress);
        Assert.True(seen == expected, $"expected {expected}, got {seen}");
    }

    private string Lookup(string name) => _testbed.RunInClient(Long, "dig", "+short", "+time=3", "+tries=1", name).Stdout.Trim();

    private (DaemonUnderTest Daemon, string CacheFile) Up()
    {
        // site.example is the public server for the engine's direct dials and for ss-server's own lookups.
        var dns = new DnsPeers(_testbed);
        dns.StartDnsmasq(NamespaceTestbed.RouterV4, 53, $"/site.example/{NamespaceTestbed.ServerV4}", $"/auto.example/{NamespaceTestbed.ServerV4}");
        _testbed.SetResolvConf(_testbed.Router, $"nameserver {NamespaceTestbed.RouterV4}\n");
        ProxyPeers.StartShadowsocks(_testbed, "aes-128-gcm");
        string cacheFile = Path.Combine(_testbed.WorkDir, "cache.json");
        var daemon = _daemon = DaemonUnderTest.Start(_testbed);
        string path = daemon.WriteConfig(Config(cacheFile));
        Assert.Equal(0, daemon.Core("up", $$"""{"config_path": "{{path}}"}""").GetProperty("code").GetInt32());
        return (daemon, cacheFile);
    }

    /// <summary>The dashboards' "flush fake-ip cache" button: the app's old fake address leads nowhere, a new lookup works, the store forgets.</summary>
    [Fact]
    public void FlushingTheFakeIpCache_ThroughTheClashApi_OldAddressLeadsNowhere_NewLookupWorks()
    {
        var (daemon, cacheFile) = Up();
        string fake = Lookup("site.example");
        string other = Lookup("other.example");
        Assert.StartsWith("198.18.", other, StringComparison.Ordinal);
        Assert.Equal("198.18.0.1", fake);
        AssertSeen(NamespaceTestbed.ClientV4, fake);

        var flush = daemon.Unix("-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "http://localhost/cache/fakeip/flush");
        Assert.Equal("204", flush.Stdout.Trim());

        Assert.StartsWith("failed", SourceSeenAt(other), StringComparison.Ordinal); // its name is forgotten: nothing to dial
        string again = Lookup("site.example");
        Assert.Equal("198.18.0.1", again);                                        // handed out from the start of the range
        AssertSeen(NamespaceTestbed.ClientV4, again);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (DateTime.UtcNow < deadline && (!File.Exists(cacheFile) || File.ReadAllText(cacheFile).Contains("other.example", StringComparison.Ordinal)))
            Thread.Sleep(200);
        Assert.DoesNotContain("other.example", File.ReadAllText(cacheFile), StringComparison.Ordinal);
    }

    [Fact]
    public void FakeAddressesAndThePickedSelectorMember_SurviveAKilledDaemon()
    {
        var (daemon, cacheFile) = Up();

        string fake = Lookup("site.example");
        Assert.StartsWith("198.18.", fake, StringComparison.Ordinal);
        AssertSeen(NamespaceTestbed.ClientV4, fake);

        var put = daemon.Unix("-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "-d", """{"name": "ss"}""", "http://localhost/proxies/pick");
        Assert.Equal("204", put.Stdout.Trim());
        AssertSeen(NamespaceTestbed.ServerV4, fake);

        // The file is written within a few seconds of a change; a SIGKILL then loses nothing.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (DateTime.UtcNow < deadline && !(File.Exists(cacheFile) && File.ReadAllText(cacheFile) is var text
            && text.Contains("site.example", StringComparison.Ordinal) && text.Contains("\"ss\"", StringComparison.Ordinal)))
            Thread.Sleep(200);
        daemon.Process.Signal(9);
        Assert.True(daemon.Process.WaitForExit(TimeSpan.FromSeconds(20)));
        daemon.Launch();
        Assert.True(daemon.WaitForState("connected", Long), daemon.Process.Log);

        // The app still holds the old fake address and asks nothing: it reaches its name, through the picked member.
        AssertSeen(NamespaceTestbed.ServerV4, fake);
        Assert.Equal("ss", daemon.Get("/proxies/pick").GetProperty("now").GetString());
        Assert.Equal(fake, Lookup("site.example"));
        using var saved = JsonDocument.Parse(File.ReadAllText(cacheFile));
        Assert.Contains("site.example", saved.RootElement.GetRawText());
    }

    /// <summary>
    /// A url-test group pinned by hand (a dashboard's "fixed") stays pinned across a killed daemon, as mihomo keeps it:
    /// the group would pick by itself otherwise. The pin is the member the group did not pick.
    /// </summary>
    [Fact]
    public void APinnedUrlTestMember_SurvivesAKilledDaemon()
    {
        var (daemon, cacheFile) = Up();
        string fake = Lookup("auto.example");
        Assert.StartsWith("198.18.", fake, StringComparison.Ordinal);
        string seen = SourceSeenAt(fake); // the first flow waits for the group's first probe round
        var group = daemon.Get("/proxies/auto");
        string picked = group.GetProperty("now").GetString()!;
        Assert.True(seen == (picked == "ss" ? NamespaceTestbed.ServerV4 : NamespaceTestbed.ClientV4), $"the group picked {picked}, the server saw {seen}");
        string pin = picked == "ss" ? "direct" : "ss";

        var put = daemon.Unix("-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "-d", $$"""{"name": "{{pin}}"}""", "http://localhost/proxies/auto");
        Assert.Equal("204", put.Stdout.Trim());
        string pinnedSource = pin == "ss" ? NamespaceTestbed.ServerV4 : NamespaceTestbed.ClientV4;
        AssertSeen(pinnedSource, fake);

        // The file is written within a few seconds of a change; a SIGKILL then loses nothing.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (DateTime.UtcNow < deadline && !(File.Exists(cacheFile) && File.ReadAllText(cacheFile) is var text
            && text.Contains("auto.example", StringComparison.Ordinal) && text.Contains("\"pinned\"", StringComparison.Ordinal)))
            Thread.Sleep(200);
        daemon.Process.Signal(9);
        Assert.True(daemon.Process.WaitForExit(TimeSpan.FromSeconds(20)));
        daemon.Launch();
        Assert.True(daemon.WaitForState("connected", Long), daemon.Process.Log);

        AssertSeen(pinnedSource, fake);
        var after = daemon.Get("/proxies/auto");
        Assert.Equal(pin, after.GetProperty("now").GetString());
        Assert.Equal(pin, after.GetProperty("fixed").GetString());
    }
}
