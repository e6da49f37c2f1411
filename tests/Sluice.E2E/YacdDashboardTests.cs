using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Sluice.E2E;

/// <summary>
/// The real Yacd-meta dashboard (its published build, /work/shared/dashboards/yacd-meta, or SLUICE_YACD_DIR)
/// in Debian's headless Chromium inside the client namespace, against the daemon's Clash API on 127.0.0.1:9090:
/// served by external_ui at /ui/, and from another origin (a second HTTP server on 127.0.0.1:8088), allowed with no
/// access_control_allow_origin (sing-box's default) and refused when that list names others. It lists the groups, switches the selector (the next curl reaches the server from
/// the new member's address), closes a running transfer from the connections page (the transfer stops early)
/// and its traffic chart moves. Screenshots: artifacts/test-results/yacd/*.png.
/// </summary>
public sealed class YacdDashboardTests : IDisposable
{
    private const string Secret = "yacd-test-secret";
    private const int ApiPort = 9090;
    private const int OtherOriginPort = 8088;
    private const string TransferProcess = "curl-yacd";
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();

    public static string YacdDir => Environment.GetEnvironmentVariable("SLUICE_YACD_DIR") ?? "/work/shared/dashboards/yacd-meta";

    [Fact]
    public void Yacd_ServedByExternalUi_ListsGroups_SwitchesSelector_ClosesConnection_ChartMoves()
    {
        var report = RunDashboard(origins: null, pageBase: $"http://127.0.0.1:{ApiPort}/ui/", prefix: "external-ui");
        AssertDashboardDidItsJob(report);
    }

    [Fact]
    public void Yacd_FromOtherOrigin_WithNoOriginList_ListsGroups_SwitchesSelector_ClosesConnection_ChartMoves()
    {
        // sing-box's default (no access_control_allow_origin): a dashboard served elsewhere works with the secret.
        string origin = $"http://127.0.0.1:{OtherOriginPort}";
        var report = RunDashboard(origins: null, pageBase: origin + "/", prefix: "other-origin", serveOtherOrigin: true);
        AssertDashboardDidItsJob(report);
    }

    [Fact]
    public void Yacd_FromOtherOrigin_NotInTheOriginList_IsRefused()
    {
        var report = RunDashboard(origins: ["http://127.0.0.1:8089"], pageBase: $"http://127.0.0.1:{OtherOriginPort}/", prefix: "not-allowed", serveOtherOrigin: true, mode: "refused");
        Assert.True(report.GetProperty("ok").GetBoolean(), report.ToString());
        Assert.StartsWith("refused", report.GetProperty("fetch").GetString());
    }

    private void AssertDashboardDidItsJob(JsonElement report)
    {
        Assert.True(report.GetProperty("ok").GetBoolean(), report.ToString());
        var listed = report.GetProperty("listed").EnumerateArray().Select(e => e.GetString()).ToArray();
        Assert.Contains(listed, l => l!.Contains("pick", StringComparison.Ordinal));
        // Before the switch the app went direct (the server saw the client); after it, through ss-server.
        Assert.Equal(NamespaceTestbed.ClientV4, report.GetProperty("before").GetString());
        Assert.NotEqual(NamespaceTestbed.ClientV4, report.GetProperty("after").GetString());
        Assert.Contains(TransferProcess, report.GetProperty("row").GetString());
        Assert.True(report.GetProperty("chartMoved").GetBoolean(), report.ToString());
        // The rules page's switch of rule 0 (the transfer's process rule) went to PATCH /rules/disable and was taken.
        Assert.Equal("204 {\"0\":true}", report.GetProperty("ruleSwitch").GetString());
    }

    private JsonElement RunDashboard(string[]? origins, string pageBase, string prefix, bool serveOtherOrigin = false, string mode = "full")
    {
        string browserDir = Path.Combine(DashboardTests.RepoRoot(), "tests", "e2e-browser");
        Assert.True(File.Exists("/usr/bin/chromium"), "Debian's chromium is missing: run scripts/install.sh");
        Assert.True(Directory.Exists(Path.Combine(browserDir, "node_modules", "playwright-core")), "playwright-core is missing: npm ci in tests/e2e-browser");
        Assert.True(File.Exists(Path.Combine(YacdDir, "index.html")), $"the Yacd-meta build is missing at {YacdDir} (set SLUICE_YACD_DIR)");
        string shots = DashboardTests.TestResultsFolder("yacd");

        ProxyPeers.StartShadowsocks(_testbed, "aes-128-gcm");
        // A sparse 512 MiB file: the transfer lasts, whatever the kernel buffers hold.
        using (var big = File.Create(Path.Combine(_testbed.WwwDir, "big.bin"))) big.SetLength(512L * 1024 * 1024);
        string transferCurl = _testbed.CopyProgram("curl", TransferProcess);

        var daemon = DaemonUnderTest.Start(_testbed, WriteDaemonConfig(origins));
        Assert.Equal(0, daemon.Core("up").GetProperty("code").GetInt32());
        // The API's own origin serves the dashboard's files without the secret.
        var index = _testbed.RunInClient(TimeSpan.FromSeconds(30), "curl", "-sS", "-f", $"http://127.0.0.1:{ApiPort}/ui/");
        Assert.True(index.Ok && index.Stdout.Contains("<title>yacd</title>", StringComparison.Ordinal), index.ToString());
        if (serveOtherOrigin)
        {
            _testbed.StartIn(_testbed.Client, "python3", "-m", "http.server", OtherOriginPort.ToString(), "--bind", "127.0.0.1", "--directory", YacdDir);
            ProxyPeers.WaitListening(_testbed, OtherOriginPort, _testbed.Client);
        }

        // The app's long transfer (4 MiB/s for 128 s unless closed); a rule keeps it on "direct", so switching "pick" leaves it alone.
        var clock = Stopwatch.StartNew();
        var transfer = mode == "full"
            ? _testbed.StartIn(_testbed.Client, transferCurl, "-sS", "-o", "/dev/null", "--max-time", "150", "--limit-rate", "4M", EngineConfigs.ServerUrl("big.bin"))
            : null;
        var config = new JsonObject
        {
            ["page"] = $"{pageBase}?hostname=127.0.0.1&port={ApiPort}&secret={Secret}#/proxies",
            ["api"] = $"http://127.0.0.1:{ApiPort}",
            ["secret"] = Secret,
            ["group"] = "pick",
            ["from"] = "direct",
            ["to"] = "ss",
            ["process"] = TransferProcess,
            ["curl"] = "curl",
            ["whoamiUrl"] = EngineConfigs.ServerUrl(),
            ["shots"] = shots,
            ["prefix"] = prefix,
            ["mode"] = mode,
        };
        var browser = _testbed.RunInClient(TimeSpan.FromSeconds(110), "node", Path.Combine(browserDir, "yacd.mjs"), config.ToJsonString());
        string last = browser.Stdout.Trim().Split('\n').Last();
        Assert.True(last.StartsWith('{'), browser + "\n" + daemon.Process.Log);
        var report = JsonDocument.Parse(last).RootElement.Clone();
        Assert.True(report.GetProperty("ok").GetBoolean(), report + "\n" + browser.Stderr + "\n" + daemon.Process.Log);
        if (transfer is not null)
        {
            Assert.True(transfer.WaitForExit(15_000), $"the transfer still runs after Yacd closed it\n{report}");
            Assert.NotEqual(0, transfer.ExitCode);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(120), $"512 MiB at 4 MiB/s takes 128 s; it ended after {clock.Elapsed}\n{report}");
        }
        if (mode == "full")
        {
            var rule = daemon.Get("/rules").GetProperty("rules")[0];
            Assert.True(rule.GetProperty("extra").GetProperty("disabled").GetBoolean(), rule + "\n" + report);
        }
        return report;
    }

    private string WriteDaemonConfig(string[]? origins)
    {
        string rules = $$"""{"process_name": ["{{TransferProcess}}"], "outbound": "direct"}""";
        string outbounds = ProxyPeers.Shadowsocks("ss", "aes-128-gcm")
            + """, {"type": "selector", "tag": "pick", "outbounds": ["direct", "ss"], "default": "direct"}""";
        var config = JsonNode.Parse(ProxyPeers.TunConfig(outbounds, final: "pick", rules))!.AsObject();
        var clash = new JsonObject
        {
            ["external_controller"] = $"127.0.0.1:{ApiPort}",
            ["secret"] = Secret,
            ["external_ui"] = YacdDir,
        };
        if (origins is not null) clash["access_control_allow_origin"] = new JsonArray(origins.Select(o => (JsonNode)o).ToArray());
        config["experimental"] = new JsonObject { ["clash_api"] = clash };
        string path = Path.Combine(_testbed.WorkDir, "daemon.json");
        File.WriteAllText(path, config.ToJsonString());
        return path;
    }

    public void Dispose() => _testbed.Dispose();
}
