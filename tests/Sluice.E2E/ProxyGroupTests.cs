using System.Text.RegularExpressions;
using Sluice.Cli.Testbed;

namespace Sluice.E2E;

/// <summary>
/// Server groups against real ss-servers. (Latency ordering under `tc netem` delays is not tested
/// here: this machine's kernel has no netem qdisc; see the report.)
/// </summary>
public sealed partial class ProxyGroupTests : IDisposable
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(60);
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();

    public ProxyGroupTests() => _testbed.AddHiddenServer();

    private static string Members(params int[] ports) =>
        string.Join(", ", ports.Select(p => ProxyPeers.Shadowsocks($"ss-{p}", "aes-128-gcm", port: p)));

    [Fact]
    public void UrlTest_ChosenServerKilled_TrafficMovesToLiveOne_WithinOneInterval_AndRetrySucceeds()
    {
        int[] ports = [8391, 8392, 8393];
        var servers = ports.ToDictionary(p => $"ss-{p}", p => ProxyPeers.StartShadowsocks(_testbed, "aes-128-gcm", port: p));
        string group = """{"type": "urltest", "tag": "auto", "outbounds": ["ss-8391", "ss-8392", "ss-8393"], "interval": "2s", "tolerance": 50}""";
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(Members(ports) + ", " + group, final: "auto")).WaitStarted();

        var first = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "10", ProxyPeers.HiddenUrl());
        Assert.True(first.Ok, first + "\n" + engine.Log);
        Assert.True(engine.WaitFor("group auto: now using", TimeSpan.FromSeconds(5)), engine.Log);
        string chosen = UsingRegex().Match(engine.Log).Groups[1].Value;

        Exec.Kill(servers[chosen]);
        // One interval (2 s) plus the probe's own timeout bound.
        Assert.True(engine.WaitFor($"member {chosen} is down", TimeSpan.FromSeconds(8)), engine.Log);
        var retry = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "10", ProxyPeers.HiddenUrl());

        Assert.True(retry.Ok, retry + "\n" + engine.Log);
        Assert.Equal(NamespaceTestbed.HiddenV4, retry.Stdout.Trim());
        var now = UsingRegex().Matches(engine.Log).Last().Groups[1].Value;
        Assert.NotEqual(chosen, now);
    }

    [Fact]
    public void UrlTest_DeadServer_ClosesItsOpenConnections()
    {
        int[] ports = [8391, 8392];
        var servers = ports.ToDictionary(p => $"ss-{p}", p => ProxyPeers.StartShadowsocks(_testbed, "aes-128-gcm", port: p));
        string group = """{"type": "urltest", "tag": "auto", "outbounds": ["ss-8391", "ss-8392"], "interval": "2s"}""";
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(Members(ports) + ", " + group, final: "auto")).WaitStarted();
        // A long download that is still running when its server dies.
        File.WriteAllBytes(Path.Combine(_testbed.WwwDir, "big.bin"), new byte[200 * 1024 * 1024]);
        var download = _testbed.StartIn(_testbed.Client, "curl", "-sS", "--limit-rate", "1M", "-o", "/dev/null", ProxyPeers.HiddenUrl("big.bin"));
        Assert.True(engine.WaitFor("group auto: now using", TimeSpan.FromSeconds(10)), engine.Log);
        Thread.Sleep(1000);
        string chosen = UsingRegex().Match(engine.Log).Groups[1].Value;

        Exec.Kill(servers[chosen]);

        // The app sees its connection end (not a silent stall), so it can reconnect.
        Assert.True(download.WaitForExit(15_000), engine.Log);
        Assert.NotEqual(0, download.ExitCode);
        Assert.True(engine.WaitFor($"member {chosen} is down", TimeSpan.FromSeconds(5)), engine.Log);
    }

    [Fact]
    public void Fallback_SkipsDeadFirstMember_UsesNextHealthy()
    {
        ProxyPeers.StartShadowsocks(_testbed, "aes-128-gcm", port: 8392);
        // Nothing listens on 8391: the first member is dead from the start.
        string group = """{"type": "fallback", "tag": "fb", "outbounds": ["ss-8391", "ss-8392"], "interval": "2s"}""";
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(Members(8391, 8392) + ", " + group, final: "fb")).WaitStarted();

        var result = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "10", ProxyPeers.HiddenUrl());

        Assert.True(result.Ok, result + "\n" + engine.Log);
        Assert.Equal(NamespaceTestbed.HiddenV4, result.Stdout.Trim());
        Assert.Contains("group fb: now using ss-8392", engine.Log);
    }

    [Fact]
    public void Selector_UsesDefaultMember()
    {
        ProxyPeers.StartShadowsocks(_testbed, "aes-128-gcm", port: 8392);
        string group = """{"type": "selector", "tag": "pick", "outbounds": ["direct", "ss-8392"], "default": "ss-8392"}""";
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(Members(8392) + ", " + group, final: "pick")).WaitStarted();

        var result = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "10", ProxyPeers.HiddenUrl());

        Assert.True(result.Ok, result + "\n" + engine.Log);
        Assert.Equal(NamespaceTestbed.HiddenV4, result.Stdout.Trim());
    }

    [GeneratedRegex(@"group \w+: now using (ss-\d+)")]
    private static partial Regex UsingRegex();

    public void Dispose() => _testbed.Dispose();
}
