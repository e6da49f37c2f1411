using Sluice.Hosting.Linux;
using Sluice.Testbed;
using Sluice.Platform.Linux;

namespace Sluice.E2E;

/// <summary>
/// Boot: the unit `gate enable` writes is run, verbatim, in a fresh client namespace before any engine
/// (systemd is not PID 1 here, so its ExecStart is what runs); then the engine starts.
/// </summary>
public sealed class GateBootTests : IDisposable
{
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();
    private readonly string _cgroup = GateRuns.NewCgroup();

    [Fact]
    public void BootUnit_HoldsTheAppBeforeAnyEngine_ThenTheEngineCarriesIt()
    {
        string root = Path.Combine(_testbed.WorkDir, "root");
        string config = GateRuns.WriteConfig(_testbed, GateRuns.Config($$"""{"mode": "protected", "cgroup": "{{_cgroup}}"}"""), "gate.json");
        // `gate enable` applies now too: run it in a scratch namespace, never the host's.
        GateRuns.InScratchNamespace(_testbed, ns =>
        {
            var enable = Exec.Run(TimeSpan.FromSeconds(60), ["ip", "netns", "exec", ns, .. SluiceBinary.Command(), "gate", "enable", "-c", config, "--root", root]);
            Assert.True(enable.Ok, enable.ToString());
        });
        Assert.False(GateRuns.TablePresent(_testbed), "the client namespace must start without a gate");

        // Positive control: before the unit runs, the app's probes leave on eth0.
        var control = GateRuns.CaptureWhile(_testbed, "boot-control", Any(), () =>
        {
            var plain = GateRuns.StartProbe(_testbed, "plain");
            Thread.Sleep(2000);
            Exec.Kill(plain);
        });
        Assert.True(control.Count > 0, "positive control: no probe seen without the gate");

        // "Boot": the unit's commands, before any engine.
        Boot(root);
        Assert.Contains("mode protected", GateRuns.Sluice(_testbed, "gate", "status").Stdout);

        var probe = GateRuns.StartProbe(_testbed, "cgroup");
        var held = GateRuns.CaptureWhile(_testbed, "boot-held", Any(), () => Thread.Sleep(4000));
        Assert.True(held.Count == 0, $"{held.Count} probe packet(s) left before the engine started:\n{held.Packets}");

        // The engine starts: the same app now reaches the server through the tunnel.
        var engine = _testbed.StartEngine(GateRuns.Config($$"""{"mode": "protected", "cgroup": "{{_cgroup}}"}""")).WaitStarted();
        Assert.True(engine.WaitFor($"{NamespaceTestbed.ServerV4}:9000", TimeSpan.FromSeconds(10)), "the probe's flows did not enter the TUN:\n" + engine.Log);
        var curl = _testbed.RunInClient(TimeSpan.FromSeconds(30), [.. SluiceBinary.Command(), "exec", "--lane", "protected", "--",
            "curl", "-sS", "--max-time", "10", EngineConfigs.ServerUrl()]);
        Assert.True(curl.Ok, curl + "\n" + engine.Log);
        Assert.Equal(NamespaceTestbed.ClientV4, curl.Stdout.Trim());
        Exec.Kill(probe);
    }

    /// <summary>
    /// The gate at boot does not depend on the config: broken after `gate enable`, the stored ruleset still
    /// loads; with the stored file gone too, the unit's own deny-all table holds every process.
    /// </summary>
    [Fact]
    public void BootUnit_WithTheConfigBroken_LoadsTheStoredGate_AndWithoutTheStoredFile_HoldsEverything()
    {
        string root = Path.Combine(_testbed.WorkDir, "root");
        string config = GateRuns.WriteConfig(_testbed, GateRuns.Config($$"""{"mode": "protected", "cgroup": "{{_cgroup}}"}"""), "gate.json");
        GateRuns.InScratchNamespace(_testbed, ns =>
        {
            var enable = Exec.Run(TimeSpan.FromSeconds(60), ["ip", "netns", "exec", ns, .. SluiceBinary.Command(), "gate", "enable", "-c", config, "--root", root]);
            Assert.True(enable.Ok, enable.ToString());
        });
        File.WriteAllText(config, "{ \"gate\": { \"mode\": \"protected\", "); // a typo after enable
        var control = GateRuns.CaptureWhile(_testbed, "broken-control", Any(), () =>
        {
            var plain = GateRuns.StartProbe(_testbed, "plain");
            Thread.Sleep(2000);
            Exec.Kill(plain);
        });
        Assert.True(control.Count > 0, "positive control: no probe seen without the gate");

        Boot(root);
        var status = GateRuns.Sluice(_testbed, "gate", "status");
        Assert.Contains("mode protected", status.Stdout);
        var probe = GateRuns.StartProbe(_testbed, "cgroup");
        var held = GateRuns.CaptureWhile(_testbed, "broken-held", Any(), () => Thread.Sleep(3000));
        Exec.Kill(probe);
        Assert.True(held.Count == 0, $"{held.Count} probe packet(s) left with the config broken at boot:\n{held.Packets}");

        // The stored ruleset is gone as well (and no gate is loaded): the unit's deny-all holds a plain process.
        File.Delete(SystemdUnit.RulesetPath(root));
        Assert.True(_testbed.RunInClient(TimeSpan.FromSeconds(10), "nft", "delete", "table", "inet", "sluice").Ok);
        Boot(root);
        Assert.Contains("mode all", GateRuns.Sluice(_testbed, "gate", "status").Stdout);
        var plainProbe = GateRuns.StartProbe(_testbed, "plain");
        var denied = GateRuns.CaptureWhile(_testbed, "deny-all", Any(), () => Thread.Sleep(3000));
        Exec.Kill(plainProbe);
        Assert.True(denied.Count == 0, $"{denied.Count} probe packet(s) left under the deny-all fallback:\n{denied.Packets}");
    }

    /// <summary>
    /// The unit's ExecStart lines in order, as systemd runs them ('-' lines may fail). The stored ruleset's
    /// path is as boot sees it (/etc/sluice/gate.nft); here the root is a folder, so it is read from there.
    /// </summary>
    private void Boot(string root)
    {
        foreach (var line in SystemdUnit.ExecStarts(File.ReadAllText(SystemdUnit.UnitPath(root))))
        {
            string[] argv = line.Argv.Select(a => a == "/" + SystemdUnit.RulesetFile ? SystemdUnit.RulesetPath(root) : a).ToArray();
            var run = _testbed.RunInClient(TimeSpan.FromSeconds(60), argv);
            Assert.True(run.Ok || line.IgnoreFailure, $"the unit's ExecStart failed: {string.Join(' ', argv)}\n{run}");
        }
    }

    private static string Any() => "(" + string.Join(" || ", GateProbes.Filters.Select(f => "(" + f.Filter + ")")) + ")";

    public void Dispose()
    {
        _testbed.Dispose();
        GateRuns.RemoveCgroup(_cgroup);
    }
}
