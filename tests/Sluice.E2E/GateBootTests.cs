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
        var execStart = SystemdUnit.ExecStart(File.ReadAllText(SystemdUnit.UnitPath(root)));
        Assert.False(GateRuns.TablePresent(_testbed), "the client namespace must start without a gate");

        // Positive control: before the unit runs, the app's probes leave on eth0.
        var control = GateRuns.CaptureWhile(_testbed, "boot-control", Any(), () =>
        {
            var plain = GateRuns.StartProbe(_testbed, "plain");
            Thread.Sleep(2000);
            Exec.Kill(plain);
        });
        Assert.True(control.Count > 0, "positive control: no probe seen without the gate");

        // "Boot": the unit's command, before any engine.
        var boot = _testbed.RunInClient(TimeSpan.FromSeconds(60), [.. execStart]);
        Assert.True(boot.Ok, $"the unit's ExecStart failed: {string.Join(' ', execStart)}\n{boot}");
        Assert.True(GateRuns.TablePresent(_testbed));

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

    private static string Any() => "(" + string.Join(" || ", GateProbes.Filters.Select(f => "(" + f.Filter + ")")) + ")";

    public void Dispose()
    {
        _testbed.Dispose();
        GateRuns.RemoveCgroup(_cgroup);
    }
}
