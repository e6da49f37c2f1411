using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// `sluice reload` keeps live connections: a 100 MiB download through the shadowsocks lane survives a reload
/// that changes the rules, while a download on the SOCKS outbound the new config removes is reset; a broken
/// config changes nothing and the answer names the JSON path of the error.
/// </summary>
public sealed class ReloadKeepsConnectionsTests : IDisposable
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(120);
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();

    public ReloadKeepsConnectionsTests() => _testbed.AddHiddenServer();

    private static string Config(bool withSocks, string extraRules = "") => ProxyPeers.TunConfig(
        ProxyPeers.Shadowsocks("ss", "aes-128-gcm") + (withSocks ? ", " + ProxyPeers.Socks("socks", ProxyPeers.MicrosocksPort, ProxyPeers.User, ProxyPeers.Password) : ""),
        final: "direct",
        rules: extraRules + $$"""{"ip_cidr": ["{{NamespaceTestbed.HiddenV4}}/32"], "outbound": "ss"}"""
            + (withSocks ? $$""", {"ip_cidr": ["{{NamespaceTestbed.ServerV4}}/32"], "outbound": "socks"}""" : ""));

    [Fact]
    public async Task Reload_KeepsTheDownloadOnAnUnchangedLane_ResetsTheRemovedLane_AndABrokenConfigChangesNothing()
    {
        string expected = ProxyPeers.WriteBlob(_testbed);
        ProxyPeers.StartShadowsocks(_testbed, "aes-128-gcm");
        ProxyPeers.StartMicrosocks(_testbed);
        var daemon = DaemonUnderTest.Start(_testbed);
        string path = daemon.WriteConfig(Config(withSocks: true));
        Assert.Equal(0, daemon.Cli("up", "-c", path).ExitCode);

        // 100 MiB at 8 MiB/s takes ~13 s through ss; the one through socks is slower still, so both are live at the reload.
        var kept = Task.Run(() => _testbed.RunInClient(Long, "sh", "-c",
            $"curl -sS --max-time 100 --limit-rate 8M {ProxyPeers.HiddenUrl("blob.bin")} | sha256sum"));
        var removed = Task.Run(() => _testbed.RunInClient(Long, "curl", "-sS", "-o", "/dev/null", "--max-time", "100", "--limit-rate", "2M",
            EngineConfigs.ServerUrl("blob.bin")));
        Assert.True(daemon.Process.WaitFor("=> socks", TimeSpan.FromSeconds(10)), daemon.Process.Log);
        Assert.True(daemon.Process.WaitFor("=> ss", TimeSpan.FromSeconds(10)), daemon.Process.Log);
        await Task.Delay(2000);

        File.WriteAllText(path, Config(withSocks: false, extraRules: """{"port": [22], "action": "reject"}, """));
        var reload = daemon.Cli("reload");
        Assert.True(reload.Ok, reload + "\n" + daemon.Process.Log);
        Assert.Matches(@"reloaded: \d+ connection\(s\) kept, [1-9]\d* closed \(outbounds removed or changed: socks\)", reload.Stdout);

        File.WriteAllText(path, Config(withSocks: false).Replace("\"final\": \"direct\"", "\"final\": \"nowhere\"", StringComparison.Ordinal));
        var broken = daemon.Cli("reload");
        Assert.False(broken.Ok, broken.ToString());
        Assert.Contains("route.final", broken.Stdout + broken.Stderr);
        Assert.Equal("connected", daemon.Core("status").GetProperty("data").GetProperty("state").GetString());

        var download = await kept;
        Assert.True(download.Ok, download + "\n" + daemon.Process.Log);
        Assert.Equal(expected, download.Stdout.Split(' ')[0]);
        var reset = await removed;
        Assert.False(reset.Ok, "the download on the removed outbound should have been reset: " + reset);
        Assert.Contains("reset", reset.Stderr, StringComparison.OrdinalIgnoreCase);
        // The rules the reload published decide new flows: the hidden server still answers through ss.
        Assert.True(_testbed.RunInClient(Long, "curl", "-sS", "--max-time", "10", ProxyPeers.HiddenUrl()).Ok, daemon.Process.Log);
    }

    public void Dispose() => _testbed.Dispose();
}
