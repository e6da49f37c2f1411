using System.Diagnostics;
using System.Text.Json;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// The dashboard in a real headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core from
/// tests/e2e-browser, running inside the client namespace): it loads /ui, sees the running transfer, its
/// "close" button ends it. Screenshots go to artifacts/test-results/dashboard/.
/// </summary>
public sealed class DashboardTests : IDisposable
{
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();

    [Fact]
    public async Task Dashboard_ShowsRunningTransfer_AndItsCloseButtonStopsIt()
    {
        string browserDir = Path.Combine(RepoRoot(), "tests", "e2e-browser");
        Assert.True(File.Exists("/usr/bin/chromium"), "Debian's chromium is missing: run scripts/install.sh (apt-get install chromium)");
        Assert.True(Directory.Exists(Path.Combine(browserDir, "node_modules", "playwright-core")), "playwright-core is missing: run scripts/install.sh (npm ci in tests/e2e-browser)");
        var data = new byte[48 * 1024 * 1024];
        new Random(3).NextBytes(data);
        File.WriteAllBytes(Path.Combine(_testbed.WwwDir, "big.bin"), data);
        string curl = _testbed.CopyProgram("curl", "curl-ui");
        var daemon = DaemonUnderTest.Start(_testbed);
        Assert.Equal(0, daemon.Core("up", $$"""{"config": {{EngineConfigs.Tun()}}}""").GetProperty("code").GetInt32());

        var clock = Stopwatch.StartNew();
        var download = Task.Run(() => _testbed.RunInClient(TimeSpan.FromSeconds(90), curl, "-sS", "-o", "/dev/null", "--max-time", "80", "--limit-rate", "1M", EngineConfigs.ServerUrl("big.bin")));
        string screenshot = Path.Combine(TestResultsFolder("dashboard"), "dashboard.png");
        var browser = _testbed.RunInClient(TimeSpan.FromSeconds(90), "node", Path.Combine(browserDir, "dashboard.mjs"), DaemonUnderTest.Http, daemon.Secret, "curl-ui", screenshot);
        var transfer = await download;

        Assert.True(browser.Ok, browser + "\n" + daemon.Process.Log);
        var report = JsonDocument.Parse(browser.Stdout.Trim().Split('\n').Last()).RootElement;
        Assert.Equal("direct", report.GetProperty("sawLane").GetString());
        Assert.False(transfer.Ok, "the transfer should have been closed from the dashboard: " + transfer);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(45), $"48 MiB at 1 MiB/s takes 48 s; it ended after {clock.Elapsed}");
        Assert.True(File.Exists(screenshot) && new FileInfo(screenshot).Length > 10_000, "no screenshot at " + screenshot);
    }

    internal static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Sluice.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Sluice.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>
    /// A folder for what a test keeps for people to look at (screenshots, screen captures): under the
    /// test-results directory scripts/test.sh writes and clears, never elsewhere in the repository.
    /// </summary>
    internal static string TestResultsFolder(string name)
    {
        string folder = Path.Combine(RepoRoot(), "artifacts", "test-results", name);
        Directory.CreateDirectory(folder);
        return folder;
    }

    public void Dispose() => _testbed.Dispose();
}
