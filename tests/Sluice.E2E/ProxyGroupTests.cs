using System.Text.RegularExpressions;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// Server groups against real ss-servers. Servers at different distances sit behind the testbed's
/// delay lines (<see cref="NamespaceTestbed.AddDelayedServer"/>), since this kernel has no netem qdisc.
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
    public void UrlTest_PicksLowestConnectLatency_AndTheNextLowestWhenItDies()
    {
        // One-way delays 120, 10 and 50 ms: connect latencies of about 240, 20 and 100 ms.
        (int Index, int DelayMs)[] distances = [(1, 120), (2, 10), (3, 50)];
        var servers = new Dictionary<string, System.Diagnostics.Process>();
        foreach (var (index, delay) in distances)
        {
            string ns = _testbed.AddDelayedServer(index, delay);
            servers[$"ss-{index}"] = ProxyPeers.StartShadowsocks(_testbed, "aes-128-gcm", port: 8388, address: NamespaceTestbed.DelayedServerV4(index), ns: ns);
        }
        string members = string.Join(", ", distances.Select(d =>
            ProxyPeers.Shadowsocks($"ss-{d.Index}", "aes-128-gcm", port: 8388, server: NamespaceTestbed.DelayedServerV4(d.Index))));
        string group = """{"type": "urltest", "tag": "auto", "outbounds": ["ss-1", "ss-2", "ss-3"], "interval": "2s", "tolerance": 30}""";
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(members + ", " + group, final: "auto")).WaitStarted();

        // An idle group does not probe: the first request wakes it (and goes wherever it points then).
        _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "10", ProxyPeers.HiddenUrl());
        Assert.True(engine.WaitFor("group auto: now using ss-2", TimeSpan.FromSeconds(10)), engine.Log);
        // The hidden server answers with the address it was reached from: the chosen ss-server's.
        var first = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "10", ProxyPeers.HiddenUrl());
        Assert.True(first.Ok, first + "\n" + engine.Log);
        Assert.Equal(NamespaceTestbed.DelayedServerV4(2), first.Stdout.Trim());

        Exec.Kill(servers["ss-2"]);
        Assert.True(engine.WaitFor("member ss-2 is down", TimeSpan.FromSeconds(8)), engine.Log);
        var retry = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "10", ProxyPeers.HiddenUrl());

        Assert.True(retry.Ok, retry + "\n" + engine.Log);
        Assert.Equal(NamespaceTestbed.DelayedServerV4(3), retry.Stdout.Trim());
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
        string saved = Path.Combine(_testbed.WorkDir, "big.part");
        var download = _testbed.StartIn(_testbed.Client, "curl", "-sS", "--limit-rate", "1M", "-o", saved, ProxyPeers.HiddenUrl("big.bin"));
        Assert.True(engine.WaitFor("group auto: now using", TimeSpan.FromSeconds(10)), engine.Log);
        string chosen = UsingRegex().Match(engine.Log).Groups[1].Value;
        // Bytes are flowing through the chosen member before it dies.
        long Saved() => File.Exists(saved) ? new FileInfo(saved).Length : 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (Saved() < 1024 * 1024 && clock.Elapsed < TimeSpan.FromSeconds(20) && !download.HasExited) Thread.Sleep(100);
        long atKill = Saved();
        Assert.True(atKill >= 1024 * 1024 && !download.HasExited, $"the download never got going ({atKill} bytes)\n{engine.Log}");

        Exec.Kill(servers[chosen]);

        // The app sees its connection end (not a silent stall), so it can reconnect: curl exits with an
        // error well before the 200 MiB are in, and no byte arrives after that.
        Assert.True(download.WaitForExit(15_000), engine.Log);
        Assert.NotEqual(0, download.ExitCode);
        long atExit = Saved();
        Assert.True(atExit < 200L * 1024 * 1024, $"the download completed ({atExit} bytes): the connection was not cut");
        Thread.Sleep(1000);
        Assert.Equal(atExit, Saved());
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
        Assert.True(engine.WaitFor("group fb: now using ss-8392", TimeSpan.FromSeconds(5)), engine.Log);
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
