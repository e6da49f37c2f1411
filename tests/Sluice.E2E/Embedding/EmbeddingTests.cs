using Sluice.Testbed;

namespace Sluice.E2E.Embedding;

/// <summary>
/// libsluice embedded in a C host (host.c) that owns the TUN, its address and its routes, as a platform app
/// does; wireguard-go is the tunnel's far end and a dnsmasq on the LAN the DNS upstream. What a user sees
/// is asserted: the address the server saw (the client's own = direct, the tunnel's = through WireGuard),
/// blocked connections failing, and the host's callbacks (protect, find_owner, on_state) as called.
/// </summary>
public sealed class EmbeddingTests : IDisposable
{
    private const string TunnelServer = "203.0.113.20";
    private static readonly TimeSpan Curl = TimeSpan.FromSeconds(30);
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();
    private readonly (string Private, string Public) _sluiceKeys = WireGuardGoPeer.GenerateKeys();
    private readonly WireGuardGoPeer _peer;
    private EmbeddingHost? _host;

    public EmbeddingTests()
    {
        Exec.Check("ip", "-n", _testbed.Router, "addr", "add", TunnelServer + "/32", "dev", "lo");
        // The host's find_owner names flows from ports 41000-41099 as the tunneled app's: an unowned curl must never
        // be given one of them as its ephemeral port (0.35 % a connection in the kernel's default 32768-60999).
        Exec.Check("ip", "netns", "exec", _testbed.Client, "sysctl", "-qw", $"net.ipv4.ip_local_port_range={EmbeddingHost.OwnerPortHigh + 1} 60999");
        _peer = WireGuardGoPeer.Start(_testbed, _sluiceKeys.Public);
        StartDnsmasq($"/a.tunnel.example/{TunnelServer}", $"/plain.example/{NamespaceTestbed.ServerV4}", $"/blocked.example/{NamespaceTestbed.ServerV4}");
    }

    /// <summary>The rules of the acceptance: process (via find_owner), domain (via the DNS hijack's map), block; the rest direct.</summary>
    /// <param name="firstRules">Rules ahead of the others (ending with ", "): the DNS map names the server's address blocked.example.</param>
    private string Config(string extraRules = "", string routeExtra = "", string firstRules = "") => WithDns(_peer.SluiceConfig(_sluiceKeys.Private,
        """{"port": 53, "action": "hijack-dns"}, """ + firstRules +
        $$"""{"process_name": "{{EmbeddingHost.OwnerName}}", "outbound": "wg"}, """ +
        """{"domain_suffix": "tunnel.example", "outbound": "wg"}, {"domain": "blocked.example", "outbound": "block"}""" + extraRules)
        .Replace("\"type\": \"tun\",", $"\"type\": \"tun\", \"interface_name\": \"{EmbeddingHost.TunName}\",")
        .Replace("""{"type": "direct", "tag": "direct"}""", """{"type": "direct", "tag": "direct"}, {"type": "block", "tag": "block"}""")
        .Replace("\"final\": \"direct\"", "\"final\": \"direct\"" + routeExtra));

    private static string WithDns(string config) => config.Replace("\"route\":",
        $$"""
        "dns": {"servers": [{"type": "udp", "tag": "lan", "server": "{{NamespaceTestbed.RouterV4}}"}], "final": "lan"},
          "route":
        """);

    private string WriteConfig(string name, string json)
    {
        string path = Path.Combine(_testbed.WorkDir, name);
        File.WriteAllText(path, json);
        return path;
    }

    private ExecResult CurlFromClient(string url, params string[] extra) =>
        _testbed.RunInClient(Curl, ["curl", "-sS", "--max-time", "10", .. extra, url]);

    [Fact]
    public async Task EmbeddedEngine_OnTheHostsTun_RoutesByOwnerDomainAndRules_ReloadsStopsAndRestarts()
    {
        _host = EmbeddingHost.Start(_testbed);
        string config = WriteConfig("embedded.json", Config());

        // Before start: the envelope with the disconnected fallback.
        var before = _host.Status(nullHandle: true);
        Assert.Equal(0, before.GetProperty("code").GetInt32());
        Assert.Equal("disconnected", before.GetProperty("data").GetProperty("state").GetString());

        Assert.StartsWith("started in ", _host.Send($"start {config} protect", "started", "start-failed"));
        var running = _host.Status();
        Assert.Equal(0, running.GetProperty("code").GetInt32());
        Assert.Equal("connected", running.GetProperty("data").GetProperty("state").GetString());
        Assert.Equal(EmbeddingHost.TunName, running.GetProperty("data").GetProperty("tun").GetString());
        Assert.Contains(running.GetProperty("data").GetProperty("outbounds").EnumerateArray(), o => o.GetProperty("tag").GetString() == "wg");

        // Direct: the server sees the client's own address; each dial handed exactly one socket to protect.
        int protectedBefore = _host.ProtectedTcp;
        for (int i = 0; i < 3; i++)
        {
            var direct = CurlFromClient(EngineConfigs.ServerUrl());
            Assert.True(direct.Ok, direct + "\n" + _host.Transcript);
            Assert.Equal(NamespaceTestbed.ClientV4, direct.Stdout.Trim());
        }
        Assert.Equal(3, _host.ProtectedTcp - protectedBefore);

        // Process rule: the host says flows from these source ports belong to the tunneled app.
        var owned = CurlFromClient(EngineConfigs.ServerUrl(), "--local-port", OwnedPorts);
        Assert.True(owned.Ok, owned + "\n" + _host.Transcript);
        Assert.Equal(WireGuardGoPeer.SluiceTunnelV4, owned.Stdout.Trim());
        Assert.Contains(_host.Output, l => l.StartsWith("owner 6 172.19.0.1:41", StringComparison.Ordinal) && l.EndsWith(EmbeddingHost.OwnerName, StringComparison.Ordinal));

        // DNS hijack and the domain rule: the app asks the LAN resolver, the engine answers and remembers the name.
        var dig = _testbed.RunInClient(Curl, "dig", "+short", "+time=5", "+tries=1", $"@{NamespaceTestbed.RouterV4}", "plain.example");
        Assert.Equal(NamespaceTestbed.ServerV4, dig.Stdout.Trim());
        var byDomain = CurlFromClient($"http://a.tunnel.example:{NamespaceTestbed.HttpPort}/whoami");
        Assert.True(byDomain.Ok, byDomain + "\n" + _host.Transcript);
        Assert.Equal(WireGuardGoPeer.SluiceTunnelV4, byDomain.Stdout.Trim());
        var blocked = CurlFromClient($"http://blocked.example:{NamespaceTestbed.HttpPort}/whoami");
        Assert.False(blocked.Ok, "blocked.example answered: " + blocked.Stdout);
        Assert.True(blocked.Elapsed < TimeSpan.FromSeconds(8), $"the block took {blocked.Elapsed}: refused connections fail fast");

        // Reload while a 100 MiB download of the tunneled app runs through WireGuard (~13 s at 8 MiB/s): a rule
        // changes, the wg outbound does not, so the download runs on with every byte, and the reload counts it as kept.
        string expected = ProxyPeers.WriteBlob(_testbed);
        int ownerLines = OwnerLines();
        var download = Task.Run(() => _testbed.RunInClient(TimeSpan.FromSeconds(120), "sh", "-c",
            $"curl -sS --max-time 100 --speed-time 10 --speed-limit 1 --limit-rate 8M --local-port {OwnedPorts} {EngineConfigs.ServerUrl("blob.bin")} | sha256sum"));
        WaitForNewOwnedFlow(ownerLines);
        // The new rule goes first: an in-place reload keeps the DNS map, in which dig above named the server's address blocked.example.
        string reloaded = WriteConfig("reloaded.json", Config(firstRules: $$"""{"ip_cidr": "{{NamespaceTestbed.ServerV4}}/32", "outbound": "wg"}, """));
        string reloadAnswer = _host.Send($"reload {reloaded}", "reloaded", "reload-failed");
        Assert.StartsWith("reloaded {", reloadAnswer);
        using (var result = System.Text.Json.JsonDocument.Parse(reloadAnswer["reloaded ".Length..]))
        {
            Assert.True(result.RootElement.GetProperty("kept").GetInt32() >= 1, reloadAnswer);
            Assert.Equal(0, result.RootElement.GetProperty("closed").GetInt32());
            Assert.Equal(System.Text.Json.JsonValueKind.Null, result.RootElement.GetProperty("restarted").ValueKind);
        }
        // A config that does not compile is refused with the JSON path of its error and changes nothing.
        string broken = WriteConfig("broken-reload.json", Config().Replace("\"final\": \"direct\"", "\"final\": \"nowhere\"", StringComparison.Ordinal));
        Assert.StartsWith("reload-failed ", _host.Send($"reload {broken}", "reloaded", "reload-failed"));
        WaitForOutput("route.final");
        Assert.Equal("connected", _host.Status().GetProperty("data").GetProperty("state").GetString());
        var downloaded = await download;
        Assert.True(downloaded.Ok, downloaded + "\n" + _host.Transcript);
        Assert.Equal(expected, downloaded.Stdout.Split(' ')[0]);

        // The reloaded rule moves new flows: the same destination now takes the tunnel.
        var afterReload = CurlFromClient(EngineConfigs.ServerUrl());
        Assert.True(afterReload.Ok, afterReload + "\n" + _host.Transcript);
        Assert.Equal(WireGuardGoPeer.SluiceTunnelV4, afterReload.Stdout.Trim());
        Assert.Equal("netchange 0", _host.Send("netchange", "netchange "));

        // The control: a change the routing model cannot take in place (the log level) restarts the engine as the
        // daemon does, and that cuts every live flow: a download running across it stalls and fails.
        ownerLines = OwnerLines();
        var cut = Task.Run(() => _testbed.RunInClient(TimeSpan.FromSeconds(120), "curl", "-sS", "-o", "/dev/null", "--max-time", "60",
            "--speed-time", "5", "--speed-limit", "1", "--limit-rate", "4M", "--local-port", OwnedPorts, EngineConfigs.ServerUrl("blob.bin")));
        WaitForNewOwnedFlow(ownerLines);
        string restarting = WriteConfig("restarting.json", File.ReadAllText(reloaded).Replace("\"level\": \"info\"", "\"level\": \"debug\"", StringComparison.Ordinal));
        string restartAnswer = _host.Send($"reload {restarting}", "reloaded", "reload-failed");
        Assert.StartsWith("reloaded {", restartAnswer);
        using (var result = System.Text.Json.JsonDocument.Parse(restartAnswer["reloaded ".Length..]))
        {
            Assert.Contains("log", result.RootElement.GetProperty("restarted").GetString() ?? "", StringComparison.Ordinal);
            Assert.Equal(0, result.RootElement.GetProperty("kept").GetInt32());
            Assert.True(result.RootElement.GetProperty("closed").GetInt32() >= 1, restartAnswer);
        }
        var cutResult = await cut;
        Assert.False(cutResult.Ok, "the download ran on across a reload that restarted the engine: " + cutResult);

        // Stop, stop again (harmless), status after stop, then start again on the same TUN.
        _host.Send("stop", "stopped");
        Assert.Equal("disconnected", _host.Status().GetProperty("data").GetProperty("state").GetString());
        _host.Send("stop", "stopped");
        Assert.Equal(0, _host.Status().GetProperty("code").GetInt32());
        Assert.Equal(["connecting", "connected", "connecting", "connected", "disconnected"], _host.States);

        Assert.StartsWith("started in ", _host.Send($"start {config} protect", "started", "start-failed"));
        var again = CurlFromClient(EngineConfigs.ServerUrl());
        Assert.True(again.Ok, again + "\n" + _host.Transcript);
        Assert.True(NamespaceTestbed.ClientV4 == again.Stdout.Trim(), $"after the restart the server saw {again.Stdout.Trim()}, not the client's own address\n{_host.Transcript}");
        Assert.Equal("connected", _host.Status().GetProperty("data").GetProperty("state").GetString());

        // Every call from several threads at once on one handle, a stop among them: the process survives it.
        _host.Send("hammer 300", "hammered");
        Assert.Equal("disconnected", _host.Status().GetProperty("data").GetProperty("state").GetString());
        Assert.Equal("disconnected", _host.States[^1]);
    }

    [Fact]
    public void HostRefusingProtect_FailsTheDialWithAClearError_AndWithoutProtectTheEngineMarksItsSockets()
    {
        _host = EmbeddingHost.Start(_testbed);
        string config = WriteConfig("embedded.json", Config());

        Assert.StartsWith("started in ", _host.Send($"start {config} refuse-tcp", "started", "start-failed"));
        var refused = CurlFromClient(EngineConfigs.ServerUrl());
        Assert.False(refused.Ok, "the direct dial succeeded although protect refused its socket: " + refused.Stdout);
        Assert.True(refused.Elapsed < TimeSpan.FromSeconds(8), $"the refusal took {refused.Elapsed}: it must fail at once, not loop into the TUN until a timeout");
        Assert.Contains(_host.Output, l => l.EndsWith(" tcp refused", StringComparison.Ordinal));
        Assert.Contains("the host refused to protect the engine's TCP socket", _host.Log);
        _host.Send("stop", "stopped");

        // No protect callback: the engine sets SO_MARK itself (route.default_mark), which the host routes around its TUN.
        int calls = _host.ProtectCalls;
        string marked = WriteConfig("marked.json", Config(routeExtra: ", \"default_mark\": 4660"));
        Assert.StartsWith("started in ", _host.Send($"start {marked} none", "started", "start-failed"));
        var direct = CurlFromClient(EngineConfigs.ServerUrl());
        Assert.True(direct.Ok, direct + "\n" + _host.Transcript);
        Assert.Equal(NamespaceTestbed.ClientV4, direct.Stdout.Trim());
        Assert.Equal(calls, _host.ProtectCalls);
    }

    [Fact]
    public void InvalidConfig_StartReturnsNull_WithThePathOfTheError()
    {
        _host = EmbeddingHost.Start(_testbed);
        string broken = WriteConfig("broken.json", Config().Replace("\"172.19.0.1/30\"", "\"172.19.0.1/33\""));

        string answer = _host.Send($"start {broken} protect", "started", "start-failed");

        Assert.StartsWith("start-failed ", answer);
        WaitForOutput("inbounds[0].address");
        Assert.Equal("disconnected", _host.Status().GetProperty("data").GetProperty("state").GetString());
    }

    private static string OwnedPorts => $"{EmbeddingHost.OwnerPortLow}-{EmbeddingHost.OwnerPortHigh}";

    /// <summary>Until find_owner has named a flow after the first <paramref name="before"/>, then a moment for its transfer to get going.</summary>
    private void WaitForNewOwnedFlow(int before)
    {
        for (var waited = System.Diagnostics.Stopwatch.StartNew(); OwnerLines() == before && waited.Elapsed < TimeSpan.FromSeconds(10);) Thread.Sleep(50);
        Thread.Sleep(2000);
    }

    private int OwnerLines() => _host!.Output.Count(l => l.StartsWith("owner 6 ", StringComparison.Ordinal) && l.EndsWith(EmbeddingHost.OwnerName, StringComparison.Ordinal));

    /// <summary>Errors run over several lines and the host's stdout is read as it comes: waits for the line with <paramref name="text"/>.</summary>
    private void WaitForOutput(string text)
    {
        string output = string.Join('\n', _host!.Output);
        for (var waited = System.Diagnostics.Stopwatch.StartNew(); !output.Contains(text, StringComparison.Ordinal) && waited.Elapsed < TimeSpan.FromSeconds(10); output = string.Join('\n', _host.Output))
            Thread.Sleep(50);
        Assert.Contains(text, output);
    }

    private void StartDnsmasq(params string[] addresses)
    {
        string listen = NamespaceTestbed.RouterV4;
        var argv = new List<string> { "dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts", "--bind-interfaces",
            $"--listen-address={listen}", $"--pid-file={Path.Combine(_testbed.WorkDir, "dnsmasq.pid")}" };
        argv.AddRange(addresses.Select(a => "--address=" + a));
        var process = _testbed.StartIn(_testbed.Router, [.. argv]);
        for (int i = 0; i < 50; i++)
        {
            var probe = _testbed.RunInRouter(TimeSpan.FromSeconds(5), "dig", "+short", "+time=1", "+tries=1", $"@{listen}", "plain.example");
            if (probe.Ok && probe.Stdout.Trim().Length > 0) return;
            if (process.HasExited) throw new InvalidOperationException("dnsmasq exited: " + process.StandardError.ReadToEnd());
            Thread.Sleep(100);
        }
        throw new InvalidOperationException($"dnsmasq on {listen} did not answer");
    }

    public void Dispose()
    {
        _host?.Dispose();
        _testbed.Dispose();
    }
}
