using System.Text.Json;
using Sluice.Hosting.Linux;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>The everyday CLI against a real daemon: exit codes, tables and JSON, the live watch view, apps add.</summary>
public sealed class CliTests : IDisposable
{
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();

    [Fact]
    public void Verbs_PrintTablesOrJson_AndExitWithCodesThatMeanSomething()
    {
        // No daemon yet: 3, one line, no stack trace.
        var none = _testbed.RunInClient(TimeSpan.FromSeconds(30), ["env", $"SLUICE_SOCKET={_testbed.WorkDir}/absent.sock", .. SluiceBinary.Command(), "status"]);
        Assert.Equal(3, none.ExitCode);
        Assert.Single(none.Stderr.Trim().Split('\n'));
        Assert.Contains("sluice daemon", none.Stderr);

        var daemon = DaemonUnderTest.Start(_testbed);
        string good = daemon.WriteConfig(EngineConfigs.Tun());
        string bad = daemon.WriteConfig("""{"inbounds": [{"type": "tun", "address": ["x"]}]}""", "bad.json");

        Assert.Equal(4, daemon.Cli("status").ExitCode); // disconnected
        var up = daemon.Cli("up", "-c", good);
        Assert.True(up.ExitCode == 0, up.ToString());
        Assert.Contains("connected", up.Stdout);
        var status = daemon.Cli("status");
        Assert.Equal(0, status.ExitCode);
        Assert.Contains("state      connected", status.Stdout);
        Assert.Contains("outbound   direct (direct)", status.Stdout);
        var json = daemon.Cli("status", "--json");
        Assert.Equal("connected", JsonDocument.Parse(json.Stdout).RootElement.GetProperty("data").GetProperty("state").GetString());

        var refused = daemon.Cli("up", "-c", bad);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("inbounds[0].address", refused.Stderr);
        Assert.Equal(2, daemon.Cli("up", "--bogus", "x").ExitCode);

        Assert.True(_testbed.RunInClient(TimeSpan.FromSeconds(20), "curl", "-sS", "--max-time", "10", EngineConfigs.ServerUrl()).Ok);
        var connections = daemon.Cli("connections", "--json");
        Assert.Equal(0, connections.ExitCode);
        Assert.Equal(JsonValueKind.Array, JsonDocument.Parse(connections.Stdout).RootElement.GetProperty("connections").ValueKind);
        Assert.Contains("ID  APP", daemon.Cli("connections").Stdout);
        Assert.Equal(1, daemon.Cli("connections", "--close", "999999").ExitCode);
        var servers = daemon.Cli("servers", "--ping", "--url", EngineConfigs.ServerUrl());
        Assert.Equal(0, servers.ExitCode);
        Assert.Matches(@"direct\s+Direct\s+\d+ ms", servers.Stdout);
        var logs = daemon.Cli("logs");
        Assert.Equal(0, logs.ExitCode);
        Assert.Contains("engine started", logs.Stdout);

        Assert.Equal(0, daemon.Cli("down").ExitCode);
        Assert.Equal(4, daemon.Cli("status").ExitCode);
    }

    [Fact]
    public async Task StatusWatch_InTmux_ShowsTheAppsLane_AndSparklinesMove()
    {
        var data = new byte[64 * 1024 * 1024];
        new Random(5).NextBytes(data);
        File.WriteAllBytes(Path.Combine(_testbed.WwwDir, "watch.bin"), data);
        string curl = _testbed.CopyProgram("curl", "curl-watch");
        var daemon = DaemonUnderTest.Start(_testbed);
        Assert.Equal(0, daemon.Core("up", $$"""{"config": {{EngineConfigs.Tun()}}}""").GetProperty("code").GetInt32());
        var download = Task.Run(() => _testbed.RunInClient(TimeSpan.FromSeconds(60), curl, "-sS", "-o", "/dev/null", "--max-time", "30", "--limit-rate", "3M", EngineConfigs.ServerUrl("watch.bin")));

        string session = $"sluice-watch-{Environment.ProcessId}";
        string command = string.Join(' ', new[] { "ip", "netns", "exec", _testbed.Client, "env", $"SLUICE_SOCKET={daemon.Socket}" }
            .Concat(SluiceBinary.Command()).Concat(["status", "--watch"]).Select(a => "'" + a + "'"));
        var tmux = Exec.Run(TimeSpan.FromSeconds(10), "tmux", "new-session", "-d", "-s", session, "-x", "200", "-y", "40", command);
        Assert.True(tmux.Ok, tmux.ToString());
        try
        {
            // Progress, not wall time: wait (up to 30 s each) for the app's row with a speed, then for new
            // 3 s points to arrive, so a slow machine takes longer instead of failing.
            string Row(string screen) => screen.Split('\n').FirstOrDefault(l => l.StartsWith("curl-watch", StringComparison.Ordinal)) ?? "";
            string Sparks(string row) => new(row.Where(c => c is >= '▁' and <= '█').ToArray());
            string first = await ScreenWhen(session, screen => System.Text.RegularExpressions.Regex.IsMatch(Row(screen), @" [1-9][0-9.]* (KiB|MiB)/s"));
            string second = await ScreenWhen(session, screen => Sparks(Row(screen)) != Sparks(Row(first)));
            File.WriteAllText(Path.Combine(DashboardTests.TestResultsFolder("cli"), "status-watch.txt"), first + "\n----- later -----\n" + second);

            Assert.Contains("CONNECTED", second);
            Assert.Contains("4m @3s", second);
            Assert.True(Row(first).Length > 0 && Row(second).Length > 0, first + "\n---\n" + second);
            Assert.Contains(" direct ", Row(second));
            Assert.Matches("[▂▃▄▅▆▇█]", Row(second));
            Assert.Matches(@" [1-9][0-9.]* (KiB|MiB)/s", Row(second));
            // Moving: new 3 s points arrived between the two frames.
            Assert.NotEqual(Sparks(Row(first)), Sparks(Row(second)));
        }
        finally
        {
            Exec.Run(TimeSpan.FromSeconds(10), "tmux", "kill-session", "-t", session);
            await download;
        }
    }

    [Fact]
    public async Task AppsAdd_ThroughItsPrompt_PutsTheAppOnTheProtectedLane_ForItsNextFlows()
    {
        var keys = WireGuardGoPeer.GenerateKeys();
        var peer = WireGuardGoPeer.Start(_testbed, keys.Public);
        var daemon = DaemonUnderTest.Start(_testbed);
        string path = daemon.WriteConfig(peer.SluiceConfig(keys.Private, ""));
        Assert.Equal(0, daemon.Core("up", $$"""{"config_path": "{{path}}"}""").GetProperty("code").GetInt32());
        // A long-running app: asks the server who it is, every 300 ms, with a new connection each time.
        string app = _testbed.CopyProgram("/usr/bin/python3", "app-protected"); // the binary itself, not a PATH shim
        string script = Path.Combine(_testbed.WorkDir, "ask.py");
        File.WriteAllText(script, $$"""
            import sys, time, urllib.request
            while True:
                try:
                    print(urllib.request.urlopen("{{EngineConfigs.ServerUrl()}}", timeout=3).read().decode().strip(), flush=True)
                except Exception as e:
                    print("error", e, flush=True)
                time.sleep(0.3)
            """);
        var asker = _testbed.StartIn(_testbed.Client, app, "-u", script);
        var answers = new List<string>();
        var errors = new List<string>();
        asker.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (answers) answers.Add(e.Data); };
        asker.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (errors) errors.Add(e.Data); };
        asker.BeginOutputReadLine();
        asker.BeginErrorReadLine();
        for (int i = 0; i < 75; i++)
        {
            lock (answers) if (answers.Count > 0) break;
            await Task.Delay(200);
        }
        lock (answers) Assert.True(answers.Contains(NamespaceTestbed.ClientV4), "direct before: " + string.Join(" | ", answers) + string.Join("\n", errors)); // direct before

        var add = Exec.Start(["ip", "netns", "exec", _testbed.Client, "env", $"SLUICE_SOCKET={daemon.Socket}", .. SluiceBinary.Command(), "apps", "add", "-c", path], redirectInput: true);
        string? number = null;
        var listing = new List<string>();
        while (number is null && await add.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)) is { } line)
        {
            listing.Add(line);
            var cells = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (cells.Length >= 2 && cells[1] == "app-protected") number = cells[0];
        }
        Assert.True(number is not null, "app-protected not listed:\n" + string.Join('\n', listing));
        await add.StandardInput.WriteLineAsync(number);
        add.StandardInput.Close();
        string rest = await add.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(60));
        await add.WaitForExitAsync();

        Assert.True(add.ExitCode == 0, rest + await add.StandardError.ReadToEndAsync());
        Assert.Contains("Put which on lane \"wg\"", rest);
        Assert.Contains("added app-protected to lane \"wg\"", rest);
        Assert.Contains("daemon reloaded", rest);
        var saved = JsonDocument.Parse(File.ReadAllText(path)).RootElement.GetProperty("route").GetProperty("rules")[0];
        Assert.Equal("wg", saved.GetProperty("outbound").GetString());
        Assert.Equal("app-protected", saved.GetProperty("process_name")[0].GetString());
        Assert.True(File.Exists(path + ".bak"));
        // The backup holds the same keys: root's alone, whatever the umask made of the original.
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path + ".bak"));

        int seen;
        lock (answers) seen = answers.Count;
        bool tunneled = false;
        for (int i = 0; i < 50 && !tunneled; i++)
        {
            await Task.Delay(200);
            lock (answers) tunneled = answers.Skip(seen).Contains(WireGuardGoPeer.SluiceTunnelV4);
        }
        lock (answers) Assert.True(tunneled, "after apps add: " + string.Join(" | ", answers.Skip(seen)) + "\n" + daemon.Process.Log);
        Exec.Kill(asker);
    }

    /// <summary>The tmux screen once <paramref name="ready"/> holds (polled every 250 ms, at most 30 s), else the last one.</summary>
    private static async Task<string> ScreenWhen(string session, Func<string, bool> ready)
    {
        string screen = Capture(session);
        for (var waited = System.Diagnostics.Stopwatch.StartNew(); !ready(screen) && waited.Elapsed < TimeSpan.FromSeconds(30); screen = Capture(session))
            await Task.Delay(250);
        return screen;
    }

    private static string Capture(string session) => Exec.Run(TimeSpan.FromSeconds(10), "tmux", "capture-pane", "-p", "-t", session).Stdout;

    public void Dispose() => _testbed.Dispose();
}
