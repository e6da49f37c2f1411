using System.IO.Compression;
using System.Text.Json.Nodes;

namespace Sluice.E2E;

/// <summary>
/// experimental.clash_api.external_ui_download_url: the Yacd-meta build zipped (with GitHub's top folder) is
/// served only on the hidden address, which the client reaches through ss-server alone, so a dashboard at /ui/
/// proves the zip came through the detour. It stays cached across a daemon restart with the proxy gone. A config
/// sent over the API that names external_ui is refused.
/// </summary>
public sealed class DashboardDownloadTests : IDisposable
{
    private const string Secret = "download-test-secret";
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();

    public DashboardDownloadTests() => _testbed.AddHiddenServer();

    [Fact]
    public void DownloadedDashboard_ComesThroughItsDetour_IsServedAtUi_AndCachedAcrossRestarts()
    {
        Assert.True(File.Exists(Path.Combine(YacdDashboardTests.YacdDir, "index.html")), $"the Yacd-meta build is missing at {YacdDashboardTests.YacdDir}");
        ZipFile.CreateFromDirectory(YacdDashboardTests.YacdDir, Path.Combine(_testbed.WwwDir, "yacd.zip"), CompressionLevel.Fastest, includeBaseDirectory: true);
        var ss = ProxyPeers.StartShadowsocks(_testbed, "aes-128-gcm");
        var config = JsonNode.Parse(ProxyPeers.TunConfig(ProxyPeers.Shadowsocks("ss", "aes-128-gcm"), final: "direct"))!.AsObject();
        config["experimental"] = new JsonObject
        {
            ["clash_api"] = new JsonObject
            {
                ["external_controller"] = "127.0.0.1:9090",
                ["secret"] = Secret,
                ["external_ui_download_url"] = ProxyPeers.HiddenUrl("yacd.zip"),
                ["external_ui_download_detour"] = "ss",
            },
        };
        string path = Path.Combine(_testbed.WorkDir, "daemon.json");
        File.WriteAllText(path, config.ToJsonString());
        var daemon = DaemonUnderTest.Start(_testbed, path);
        Assert.Equal(0, daemon.Core("up").GetProperty("code").GetInt32());

        Assert.True(WaitForDashboard(), daemon.Process.Log);
        Assert.True(File.Exists(Path.Combine(daemon.StateDir, "external-ui", "index.html")), daemon.Process.Log);
        // The built-in dashboard moved to /dashboard.
        var builtIn = _testbed.RunInClient(TimeSpan.FromSeconds(20), "curl", "-sS", "-f", "-o", "/dev/null", "http://127.0.0.1:9090/dashboard");
        Assert.True(builtIn.Ok, builtIn.ToString());

        // The dashboards' "upgrade UI": a new zip on the server is downloaded now and served at once.
        string upgraded = Path.Combine(_testbed.WorkDir, "upgraded");
        Directory.CreateDirectory(upgraded);
        foreach (var file in Directory.EnumerateFiles(YacdDashboardTests.YacdDir)) File.Copy(file, Path.Combine(upgraded, Path.GetFileName(file)));
        File.WriteAllText(Path.Combine(upgraded, "upgraded.txt"), "new build");
        File.Delete(Path.Combine(_testbed.WwwDir, "yacd.zip"));
        ZipFile.CreateFromDirectory(upgraded, Path.Combine(_testbed.WwwDir, "yacd.zip"), CompressionLevel.Fastest, includeBaseDirectory: true);
        var upgrade = _testbed.RunInClient(TimeSpan.FromSeconds(60), "curl", "-sS", "--max-time", "50", "-X", "POST", "-H", $"Authorization: Bearer {Secret}", "http://127.0.0.1:9090/upgrade/ui");
        Assert.Equal("""{"status":"ok"}""", upgrade.Stdout.Trim());
        var newFile = _testbed.RunInClient(TimeSpan.FromSeconds(20), "curl", "-sS", "-f", "http://127.0.0.1:9090/ui/upgraded.txt");
        Assert.True(newFile.Ok && newFile.Stdout == "new build", newFile + "\n" + daemon.Process.Log);

        // A config from the API may not choose files to serve.
        var inline = JsonNode.Parse(ProxyPeers.TunConfig(ProxyPeers.Shadowsocks("ss", "aes-128-gcm"), final: "direct"))!.AsObject();
        inline["experimental"] = new JsonObject { ["clash_api"] = new JsonObject { ["external_ui"] = "/" } };
        var refused = daemon.Core("up", $$"""{"config": {{inline.ToJsonString()}}}""");
        Assert.NotEqual(0, refused.GetProperty("code").GetInt32());
        Assert.Contains("only the config the daemon was started with", refused.GetProperty("message").GetString());

        // The proxy goes away; a restarted daemon serves the cached copy.
        Exec.Kill(ss);
        daemon.Process.Signal(Exec.SigKill);
        Assert.True(daemon.Process.WaitForExit(TimeSpan.FromSeconds(10)));
        daemon.Launch(path);
        Assert.True(WaitForDashboard(), daemon.Process.Log);
    }

    private bool WaitForDashboard()
    {
        for (int i = 0; i < 60; i++)
        {
            var page = _testbed.RunInClient(TimeSpan.FromSeconds(10), "curl", "-sS", "-f", "http://127.0.0.1:9090/ui/");
            if (page.Ok && page.Stdout.Contains("<title>yacd</title>", StringComparison.Ordinal)) return true;
            Thread.Sleep(500);
        }
        return false;
    }

    public void Dispose() => _testbed.Dispose();
}
