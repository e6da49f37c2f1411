using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using Sluice.Hosting.Linux;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>The daemon's API: core actions on both listeners, the HTTP side's security rules, the Clash API over live flows.</summary>
public sealed class DaemonApiTests : IDisposable
{
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void CoreActions_AnswerTheEnvelope_OverUnixSocketAndHttp(bool viaHttp)
    {
        var daemon = DaemonUnderTest.Start(_testbed);
        string path = daemon.WriteConfig(EngineConfigs.Tun());

        var version = daemon.Core("version", viaHttp: viaHttp);
        Assert.Equal(0, version.GetProperty("code").GetInt32());
        Assert.Equal("ok", version.GetProperty("message").GetString());
        Assert.False(string.IsNullOrEmpty(version.GetProperty("data").GetProperty("version").GetString()));
        Assert.Equal("disconnected", daemon.Core("status", viaHttp: viaHttp).GetProperty("data").GetProperty("state").GetString());

        // up with the config as a JSON object
        var up = daemon.Core("up", $$"""{"config": {{EngineConfigs.Tun()}}}""", viaHttp);
        Assert.True(up.GetProperty("code").GetInt32() == 0, up + "\n" + daemon.Process.Log);
        var status = daemon.Core("status", viaHttp: viaHttp).GetProperty("data");
        Assert.Equal("connected", status.GetProperty("state").GetString());
        Assert.NotEqual(JsonValueKind.Null, status.GetProperty("connected_at").ValueKind);
        Assert.Equal("sluice0", status.GetProperty("tun").GetString());
        Assert.Contains(status.GetProperty("outbounds").EnumerateArray(), o => o.GetProperty("tag").GetString() == "direct");
        Assert.True(_testbed.RunInClient(TimeSpan.FromSeconds(30), "curl", "-sS", "--max-time", "10", EngineConfigs.ServerUrl()).Ok);

        Assert.Equal(0, daemon.Core("reload", viaHttp: viaHttp).GetProperty("code").GetInt32());
        Assert.Equal("connected", daemon.State());
        // A dashboard's "restart core" button: the same re-read, in Clash's shape.
        var restart = daemon.Unix("-w", " %{http_code}", "-X", "POST", "http://localhost/restart");
        Assert.Equal("""{"status":"ok"} 200""", restart.Stdout.Trim());
        Assert.Equal("connected", daemon.State());
        // metacubexd's "reload config": PUT /configs with an empty path and payload is that re-read too; a path is refused.
        Assert.Equal("204", daemon.Unix("-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "-d", """{"path": "", "payload": ""}""", "http://localhost/configs?force=true").Stdout.Trim());
        Assert.Equal("connected", daemon.State());
        var byPath = daemon.Unix("-w", " %{http_code}", "-X", "PUT", "-d", """{"path": "/etc/sluice/other.json"}""", "http://localhost/configs");
        Assert.EndsWith("400", byPath.Stdout.Trim(), StringComparison.Ordinal);
        Assert.Contains("does not load configs by path", byPath.Stdout);
        Assert.Equal(0, daemon.Core("down", viaHttp: viaHttp).GetProperty("code").GetInt32());
        Assert.Equal("disconnected", daemon.State());
        Assert.EndsWith("409", daemon.Unix("-w", " %{http_code}", "-X", "POST", "http://localhost/restart").Stdout.Trim(), StringComparison.Ordinal);
        Assert.NotEqual(0, _testbed.RunInClient(TimeSpan.FromSeconds(10), "ip", "link", "show", "sluice0").ExitCode);

        // up with a config path; then the errors keep the envelope and say what to do
        Assert.Equal(0, daemon.Core("up", $$"""{"config_path": "{{path}}"}""", viaHttp).GetProperty("code").GetInt32());
        Assert.Equal(path, daemon.Core("status", viaHttp: viaHttp).GetProperty("data").GetProperty("config_path").GetString());
        var invalid = daemon.Core("up", """{"config": {"inbounds": [{"type": "tun", "address": ["10.0.0.1/33"]}]}}""", viaHttp);
        Assert.Equal(2, invalid.GetProperty("code").GetInt32());
        Assert.Contains("inbounds[0].address", invalid.GetProperty("message").GetString());
        Assert.Equal("connected", daemon.State()); // a bad config does not take the running one down
        var unknown = daemon.Core("jump", viaHttp: viaHttp);
        Assert.Equal(1, unknown.GetProperty("code").GetInt32());
        Assert.Contains("up, down, status, version, reload", unknown.GetProperty("message").GetString());
        Assert.Equal(0, daemon.Core("down", viaHttp: viaHttp).GetProperty("code").GetInt32());
    }

    [Fact]
    public void EngineFailure_IsStateError_AndTheDaemonKeepsServing()
    {
        var daemon = DaemonUnderTest.Start(_testbed);
        // The TUN's name is taken by the veth: the kernel refuses TUNSETIFF and the engine fails to start.
        string broken = EngineConfigs.Tun().Replace("\"sluice0\"", "\"eth0\"");
        var up = daemon.Core("up", $$"""{"config": {{broken}}}""");

        Assert.Equal(3, up.GetProperty("code").GetInt32());
        var status = daemon.Core("status").GetProperty("data");
        Assert.Equal("error", status.GetProperty("state").GetString());
        Assert.Contains("did not start", status.GetProperty("error").GetProperty("message").GetString());
        Assert.False(daemon.Process.HasExited);
        Assert.Equal(0, daemon.Core("up", $$"""{"config": {{EngineConfigs.Tun()}}}""").GetProperty("code").GetInt32());
    }

    [Fact]
    public void Http_RefusesMissingSecret_ForeignHost_AndForeignOrigin_AndSendsNoWildcardCors()
    {
        var daemon = DaemonUnderTest.Start(_testbed);
        string Status(params string[] args)
        {
            var r = _testbed.RunInClient(TimeSpan.FromSeconds(20), ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", .. args]);
            return r.Stdout.Trim();
        }
        string url = DaemonUnderTest.Http + "/connections";
        string auth = $"Authorization: Bearer {daemon.Secret}";

        Assert.Equal("401", Status(url));
        Assert.Equal("401", Status("-H", "Authorization: Bearer not-the-secret-at-all", url));
        Assert.Equal("401", Status(url + "?token=" + daemon.Secret)); // ?token= only for WebSocket upgrades
        Assert.Equal("200", Status("-H", auth, url));
        Assert.Equal("200", Status("-H", auth, "-H", "Host: localhost:1777", url));
        Assert.Equal("403", Status("-H", auth, "-H", "Host: rebind.example:1777", url));
        Assert.Equal("403", Status("-H", auth, "-H", "Origin: http://evil.example", url));
        Assert.Equal("403", Status("-H", auth, "-H", "Sec-Fetch-Site: cross-site", url));
        Assert.Equal("403", Status("-X", "OPTIONS", "-H", "Origin: http://evil.example", "-H", "Access-Control-Request-Method: DELETE", url));
        Assert.Equal("200", Status("-H", auth, "-H", "Origin: http://127.0.0.1:1777", url));
        Assert.Equal("401", Status("-X", "POST", "-d", """{"action":"down"}""", DaemonUnderTest.Http + "/api/core"));

        var headers = string.Join("\n",
            _testbed.RunInClient(TimeSpan.FromSeconds(20), "curl", "-s", "-D", "-", "-o", "/dev/null", "-H", auth, "-H", "Origin: http://127.0.0.1:1777", url).Stdout,
            _testbed.RunInClient(TimeSpan.FromSeconds(20), "curl", "-s", "-D", "-", "-o", "/dev/null", "-H", "Origin: http://evil.example", url).Stdout,
            _testbed.RunInClient(TimeSpan.FromSeconds(20), "curl", "-s", "-D", "-", "-o", "/dev/null", DaemonUnderTest.Http + "/ui").Stdout);
        Assert.DoesNotContain("access-control-allow-origin", headers, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("frame-ancestors 'none'", headers);

        // The socket is for root and its group; the secret for root alone.
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite, File.GetUnixFileMode(daemon.Socket));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(daemon.SecretFile));
    }

    [Fact]
    public void ConfigPinsApiAddressAndSecret_ThroughExperimentalClashApi()
    {
        string config = EngineConfigs.Tun().TrimEnd().TrimEnd('}') +
            """, "experimental": {"clash_api": {"external_controller": "127.0.0.1:9097", "secret": "pinned-secret-123"}}}""";
        string path = Path.Combine(_testbed.WorkDir, "pinned.json");
        File.WriteAllText(path, config);
        var daemon = DaemonUnderTest.Start(_testbed, daemonConfig: path);

        var ok = _testbed.RunInClient(TimeSpan.FromSeconds(20), "curl", "-s", "-H", "Authorization: Bearer pinned-secret-123", "http://127.0.0.1:9097/version");
        var wrong = _testbed.RunInClient(TimeSpan.FromSeconds(20), "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer some-other-secret", "http://127.0.0.1:9097/version");
        // `up` without params brings the daemon's config up.
        var up = daemon.Core("up");

        Assert.Contains("sluice", ok.Stdout);
        Assert.Equal("401", wrong.Stdout.Trim());
        Assert.True(up.GetProperty("code").GetInt32() == 0, up.ToString());
        Assert.Equal(path, up.GetProperty("data").GetProperty("config_path").GetString());
    }

    [Fact]
    public async Task Connections_ListLiveCurl_WithProcessPathAndLane_DeleteEndsIt_TrafficStreamsCounters()
    {
        WriteBlob("blob.bin", 64);
        string curl = _testbed.CopyProgram("curl", "curl-dl");
        var daemon = DaemonUnderTest.Start(_testbed);
        Assert.Equal(0, daemon.Core("up", $$"""{"config": {{EngineConfigs.Tun()}}}""").GetProperty("code").GetInt32());
        var clock = Stopwatch.StartNew();
        var download = Task.Run(() => _testbed.RunInClient(TimeSpan.FromSeconds(90), curl, "-sS", "-o", "/dev/null", "--max-time", "80", "--limit-rate", "2M", EngineConfigs.ServerUrl("blob.bin")));

        JsonElement? live = null;
        for (int i = 0; i < 50 && live is null; i++)
        {
            await Task.Delay(200);
            live = daemon.Get("/connections").GetProperty("connections").EnumerateArray()
                .Cast<JsonElement?>().FirstOrDefault(c => c!.Value.GetProperty("metadata").GetProperty("processPath").GetString() == curl);
        }
        Assert.True(live is not null, daemon.Get("/connections").ToString() + "\n" + daemon.Process.Log);
        var connection = live!.Value;
        Assert.Equal("curl-dl", connection.GetProperty("metadata").GetProperty("process").GetString());
        Assert.Equal("direct", connection.GetProperty("chains")[0].GetString());
        Assert.Equal(NamespaceTestbed.ServerV4, connection.GetProperty("metadata").GetProperty("destinationIP").GetString());

        // /traffic: one line a second, totals growing while the download runs.
        // (The relay counts what it hands to the kernel; socket buffers drain to the rate-limited app in bursts,
        // so single seconds may show no growth; over five seconds the total grows by seconds of transfer.)
        var traffic = daemon.HttpAuthed("-N", "--max-time", "6", DaemonUnderTest.Http + "/traffic");
        var samples = traffic.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.True(samples.Length >= 5, traffic.ToString());
        var totals = samples.Select(s => s.GetProperty("downTotal").GetInt64()).ToArray();
        Assert.True(totals.Zip(totals.Skip(1)).All(p => p.Second >= p.First), string.Join(",", totals));
        Assert.True(totals[^1] - totals[0] > 4_000_000, string.Join(",", totals));
        long rates = samples.Skip(1).Sum(s => s.GetProperty("down").GetInt64());
        Assert.InRange(rates, (totals[^1] - totals[0]) / 2, (totals[^1] - totals[0]) * 2);

        var metrics = daemon.Unix("http://localhost/metrics").Stdout;
        Assert.Contains("sluice_app_download_bytes_total{app=\"curl-dl\"}", metrics);
        Assert.Contains("sluice_state{state=\"connected\"} 1", metrics);
        // What of the RSS is the managed heap, and the tables a flood grows (the soak samples these).
        foreach (var gauge in new[] { "sluice_daemon_gc_heap_bytes ", "sluice_daemon_gc_committed_bytes ", "sluice_udp_sessions ", "sluice_tcp_nat_entries " })
            Assert.Contains("\n" + gauge, metrics);

        var delete = daemon.HttpAuthed("-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE", DaemonUnderTest.Http + "/connections/" + connection.GetProperty("id").GetString());
        var result = await download;

        Assert.Equal("204", delete.Stdout.Trim());
        Assert.False(result.Ok, "the transfer should have been cut: " + result);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(25), $"64 MiB at 2 MiB/s takes 32 s; it ended after {clock.Elapsed}");
        Assert.DoesNotContain(daemon.Get("/connections").GetProperty("connections").EnumerateArray(),
            c => c.GetProperty("id").GetString() == connection.GetProperty("id").GetString());
    }

    [Fact]
    public async Task Connections_ListMixedInboundRequest_WithItsInbound_DeleteEndsIt()
    {
        WriteBlob("blob.bin", 64);
        string curl = _testbed.CopyProgram("curl", "curl-socks");
        var daemon = DaemonUnderTest.Start(_testbed);
        string config = """
            {"inbounds": [{"type": "mixed", "tag": "mixed-in", "listen": "127.0.0.1", "listen_port": 2081}],
             "outbounds": [{"type": "direct", "tag": "direct"}], "route": {"final": "direct"}}
            """;
        Assert.Equal(0, daemon.Core("up", $$"""{"config": {{config}}}""").GetProperty("code").GetInt32());
        var download = Task.Run(() => _testbed.RunInClient(TimeSpan.FromSeconds(90), curl, "-sS", "-o", "/dev/null", "--max-time", "80",
            "--limit-rate", "2M", "-x", "socks5://127.0.0.1:2081", EngineConfigs.ServerUrl("blob.bin")));

        JsonElement? live = null;
        for (int i = 0; i < 50 && live is null; i++)
        {
            await Task.Delay(200);
            live = daemon.Get("/connections").GetProperty("connections").EnumerateArray()
                .Cast<JsonElement?>().FirstOrDefault(c => c!.Value.GetProperty("metadata").GetProperty("type").GetString() == "mixed-in");
        }
        Assert.True(live is not null, daemon.Get("/connections").ToString() + "\n" + daemon.Process.Log);
        var connection = live!.Value;
        Assert.Equal("direct", connection.GetProperty("chains")[0].GetString());
        Assert.Equal(NamespaceTestbed.ServerV4, connection.GetProperty("metadata").GetProperty("destinationIP").GetString());
        Assert.Equal("curl-socks", connection.GetProperty("metadata").GetProperty("process").GetString());

        var delete = daemon.HttpAuthed("-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE", DaemonUnderTest.Http + "/connections/" + connection.GetProperty("id").GetString());
        var result = await download;

        Assert.Equal("204", delete.Stdout.Trim());
        Assert.False(result.Ok, "the transfer should have been cut: " + result);
    }

    [Fact]
    public void ClashReadEndpoints_AnswerInClashShapes()
    {
        var daemon = DaemonUnderTest.Start(_testbed);
        daemon.Core("up", $$"""{"config": {{EngineConfigs.Tun("""{"process_name": "curl-blocked", "outbound": "block"}""")}}}""");

        Assert.Equal("clash", daemon.Get("/").GetProperty("hello").GetString());
        Assert.Equal("rule", daemon.Get("/configs").GetProperty("mode").GetString());
        Assert.Equal("204", daemon.Unix("-o", "/dev/null", "-w", "%{http_code}", "-X", "PATCH", "-d", """{"mode": "direct"}""", "http://localhost/configs").Stdout.Trim());
        Assert.Equal("direct", daemon.Get("/configs").GetProperty("mode").GetString());
        Assert.Equal("400", daemon.Unix("-o", "/dev/null", "-w", "%{http_code}", "-X", "PATCH", "-d", """{"log-level": "debug"}""", "http://localhost/configs").Stdout.Trim());
        // A body that is not a JSON object is the client's mistake (400 naming what to send), not the daemon's (500).
        Assert.Equal("400", daemon.Unix("-o", "/dev/null", "-w", "%{http_code}", "-X", "PATCH", "-d", "mode=direct", "http://localhost/configs").Stdout.Trim());
        Assert.Equal("400", daemon.Unix("-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "-d", "[1]", "http://localhost/proxies/direct").Stdout.Trim());
        Assert.Equal("400", daemon.Unix("-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "-d", """{"name": 7}""", "http://localhost/proxies/direct").Stdout.Trim());
        var proxies = daemon.Get("/proxies").GetProperty("proxies");
        Assert.Equal("Direct", proxies.GetProperty("direct").GetProperty("type").GetString());
        Assert.Equal("Reject", proxies.GetProperty("block").GetProperty("type").GetString());
        Assert.Equal("Selector", proxies.GetProperty("GLOBAL").GetProperty("type").GetString());
        var rules = daemon.Get("/rules").GetProperty("rules");
        Assert.Equal("block", rules[0].GetProperty("proxy").GetString());
        Assert.Contains("curl-blocked", rules[0].GetProperty("payload").GetString());
        var delay = daemon.Get($"/proxies/direct/delay?url=http://{NamespaceTestbed.ServerV4}:{NamespaceTestbed.HttpPort}/whoami&timeout=3000");
        Assert.True(delay.GetProperty("delay").GetInt32() > 0);
        var memory = daemon.Unix("-N", "--max-time", "2", "http://localhost/memory").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(JsonDocument.Parse(memory[0]).RootElement.GetProperty("inuse").GetInt64() > 0, string.Join("\n", memory));
        var logs = daemon.Unix("--max-time", "3", "http://localhost/logs?tail=50&follow=false").Stdout;
        Assert.Contains("engine started", logs);
        // mihomo's format=structured: {time, level, message, fields} per line.
        var structured = daemon.Unix("--max-time", "3", "http://localhost/logs?tail=50&follow=false&format=structured").Stdout
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        var started = structured.First(e => e.GetProperty("message").GetString()!.Contains("engine started", StringComparison.Ordinal));
        Assert.Equal("info", started.GetProperty("level").GetString());
        Assert.Matches(@"^\d\d:\d\d:\d\d$", started.GetProperty("time").GetString());
        Assert.Equal(JsonValueKind.Array, started.GetProperty("fields").ValueKind);
    }

    [Fact]
    public void Version_NamesOsArchRuntime_AndDeviceId_IsSystemdsAppSpecificId_OverApiAndCli()
    {
        var daemon = DaemonUnderTest.Start(_testbed);
        var version = daemon.Core("version").GetProperty("data");
        foreach (string key in new[] { "version", "os", "arch", "runtime" })
            Assert.False(string.IsNullOrEmpty(version.GetProperty(key).GetString()), key);

        var udid = daemon.Get("/api/device/udid");
        Assert.Equal(0, udid.GetProperty("code").GetInt32());
        string id = udid.GetProperty("data").GetProperty("udid").GetString()!;
        string cli = _testbed.RunInClient(TimeSpan.FromSeconds(30), [.. SluiceBinary.Command(), "device-id"]).Stdout.Trim();
        string systemd = _testbed.RunInClient(TimeSpan.FromSeconds(30), "systemd-id128", "machine-id", "--app-specific=048762933d8a4f74a074bdc96ccd4dc3").Stdout.Trim();
        Assert.Equal(systemd, id);
        Assert.Equal(id, cli);
        Assert.NotEqual(File.ReadAllText("/etc/machine-id").Trim(), id);
    }

    [Fact]
    public void UpWithPid_EngineGoesDown_WithinTwoSeconds_OfThatAppsExit()
    {
        var daemon = DaemonUnderTest.Start(_testbed);
        var app = _testbed.StartIn(_testbed.Client, ["sleep", "60"]);
        var up = daemon.Core("up", $$"""{"config": {{EngineConfigs.Tun()}}, "pid": {{app.Id}}}""");
        Assert.True(up.GetProperty("code").GetInt32() == 0, up + "\n" + daemon.Process.Log);
        Assert.Equal("connected", daemon.Core("status").GetProperty("data").GetProperty("state").GetString());

        app.Kill();
        var clock = Stopwatch.StartNew();
        string state = "";
        while (clock.Elapsed < TimeSpan.FromSeconds(2))
        {
            state = daemon.Core("status").GetProperty("data").GetProperty("state").GetString()!;
            if (state == "disconnected") break;
            Thread.Sleep(50);
        }
        Assert.True(state == "disconnected", $"still {state} {clock.ElapsedMilliseconds} ms after the app died\n{daemon.Process.Log}");
        Assert.NotEqual(0, _testbed.RunInClient(TimeSpan.FromSeconds(10), "ip", "link", "show", "sluice0").ExitCode);
        Assert.Contains("exited: engine down", daemon.Process.Log);

        // A pid that names no process is refused with the envelope, and nothing comes up.
        var none = daemon.Core("up", $$"""{"config": {{EngineConfigs.Tun()}}, "pid": 2147483646}""");
        Assert.Equal(1, none.GetProperty("code").GetInt32());
        Assert.Contains("no such process", none.GetProperty("message").GetString());
    }

    private string WriteBlob(string name, int mebibytes)
    {
        var data = new byte[mebibytes * 1024 * 1024];
        new Random(mebibytes).NextBytes(data);
        File.WriteAllBytes(Path.Combine(_testbed.WwwDir, name), data);
        return Convert.ToHexStringLower(SHA256.HashData(data));
    }

    public void Dispose() => _testbed.Dispose();
}
