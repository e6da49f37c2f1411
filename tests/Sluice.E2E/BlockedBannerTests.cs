using System.Diagnostics;
using System.Text.Json;
using Sluice.Hosting.Linux;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// "Where am I": when the gate holds and no engine runs, `sluice status` in a real terminal (tmux) and the
/// dashboard in headless Chromium say the protected apps are blocked, which are held, and the three ways out.
/// Each also shows the banner is absent while the engine runs, so the assertion can fail.
/// </summary>
public sealed class BlockedBannerTests : IDisposable
{
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();
    private readonly string _cgroup = GateRuns.NewCgroup();

    private string Gate => $$"""{"mode": "protected", "uid": [{{GateRuns.ProtectedUid}}], "cgroup": "{{_cgroup}}"}""";

    [Fact]
    public void Status_InATerminal_AfterTheEngineIsKilled_SaysBlockedWithTheWaysOutAndTheHeldApp()
    {
        var engine = _testbed.StartEngine(GateRuns.Config(Gate)).WaitStarted();
        var probe = GateRuns.StartProbe(_testbed, "uid");
        string session = $"sluice-banner-{Environment.ProcessId}";
        try
        {
            string socket = Path.Combine(_testbed.WorkDir, "no-daemon.sock"); // `run` has no daemon: status reads the gate itself
            string status = string.Join(' ', SluiceBinary.Command().Select(a => $"'{a}'")) + $" status --socket '{socket}'";
            engine.Signal(Exec.SigKill);
            Assert.True(engine.WaitForExit(TimeSpan.FromSeconds(5)), "the engine did not die from SIGKILL");
            var tmux = Exec.Run(TimeSpan.FromSeconds(10), "tmux", "new-session", "-d", "-s", session, "-x", "200", "-y", "40",
                $"ip netns exec {_testbed.Client} {status}; echo exit=$?; sleep 120");
            Assert.True(tmux.Ok, tmux.ToString());
            string screen = "";
            var clock = Stopwatch.StartNew();
            while (!screen.Contains("exit=", StringComparison.Ordinal) && clock.Elapsed < TimeSpan.FromSeconds(60))
            {
                Thread.Sleep(300);
                screen = Exec.Run(TimeSpan.FromSeconds(10), "tmux", "capture-pane", "-p", "-t", session).Stdout;
            }
            Assert.Contains("INTERNET BLOCKED for protected apps — the kill switch is on", screen, StringComparison.Ordinal);
            foreach (string way in new[] { "sluice up", "sluice kill-apps", "sluice gate disable" }) Assert.Contains(way, screen, StringComparison.Ordinal);
            Assert.Contains($"{probe.Id} python3", screen, StringComparison.Ordinal);
            Assert.Contains("exit=3", screen, StringComparison.Ordinal);

            // Negative: with the gate opened, no banner.
            Assert.True(GateRuns.Sluice(_testbed, "gate", "disable", "--yes", "--root", Path.Combine(_testbed.WorkDir, "root")).Ok);
            var open = _testbed.RunInClient(TimeSpan.FromSeconds(60), [.. SluiceBinary.Command(), "status", "--socket", socket]);
            Assert.DoesNotContain("INTERNET BLOCKED", open.Stdout, StringComparison.Ordinal);
            Assert.Contains("gate       not loaded", open.Stdout, StringComparison.Ordinal);
        }
        finally
        {
            Exec.Run(TimeSpan.FromSeconds(10), "tmux", "kill-session", "-t", session);
            Exec.Kill(probe);
            probe.WaitForExit(5000);
        }
    }

    [Fact]
    public void Dashboard_InChromium_ShowsTheBlockedBanner_WhenTheEngineGoesDownUnderTheGate()
    {
        string browserDir = Path.Combine(DashboardTests.RepoRoot(), "tests", "e2e-browser");
        Assert.True(File.Exists("/usr/bin/chromium"), "Debian's chromium is missing: run scripts/install.sh");
        Assert.True(Directory.Exists(Path.Combine(browserDir, "node_modules", "playwright-core")), "playwright-core is missing: run scripts/install.sh");
        var daemon = DaemonUnderTest.Start(_testbed);
        string config = daemon.WriteConfig(GateRuns.Config(Gate), "gate.json");
        Assert.Equal(0, daemon.Core("up", $$"""{"config_path": "{{config}}"}""").GetProperty("code").GetInt32());
        var probe = GateRuns.StartProbe(_testbed, "uid");
        try
        {
            string shots = Path.Combine(DashboardTests.RepoRoot(), "artifacts", "test-results", "package");
            Directory.CreateDirectory(shots);
            string screenshot = Path.Combine(shots, "dashboard-blocked.png");
            var browser = _testbed.RunInClient(TimeSpan.FromSeconds(110), "node", Path.Combine(browserDir, "blocked.mjs"), DaemonUnderTest.Http, daemon.Secret, screenshot);
            string last = browser.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "{}";
            Assert.True(browser.Ok, "chromium: " + browser);
            using var result = JsonDocument.Parse(last);
            Assert.True(result.RootElement.GetProperty("hiddenWhileConnected").GetBoolean(), "the banner showed while the engine was connected");
            string banner = result.RootElement.GetProperty("banner").GetString()!;
            Assert.Contains("INTERNET BLOCKED for protected apps — the kill switch is on", banner, StringComparison.Ordinal);
            foreach (string way in new[] { "sluice up", "sluice kill-apps", "sluice gate disable" }) Assert.Contains(way, banner, StringComparison.Ordinal);
            Assert.Contains($"{probe.Id} python3", banner, StringComparison.Ordinal);
            Assert.True(File.Exists(screenshot) && new FileInfo(screenshot).Length > 10_000, "no screenshot at " + screenshot);
        }
        finally
        {
            Exec.Kill(probe);
            probe.WaitForExit(5000);
        }
    }

    public void Dispose()
    {
        _testbed.Dispose();
        GateRuns.RemoveCgroup(_cgroup);
    }
}
