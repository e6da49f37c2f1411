using Sluice.Hosting.Linux;
using Sluice.Testbed;
using Sluice.Platform.Linux;

namespace Sluice.E2E;

/// <summary>`sluice gate enable|disable|status`, `exec` and `kill-apps`, run inside the client namespace.</summary>
public sealed class GateCliTests : IDisposable
{
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create(startPeers: false);
    private readonly string _cgroup = GateRuns.NewCgroup();
    private string Root => Path.Combine(_testbed.WorkDir, "root");

    private string ApplyProtected(string rules = "")
    {
        string config = GateRuns.WriteConfig(_testbed, GateRuns.Config($$"""{"mode": "protected", "cgroup": "{{_cgroup}}"}""", rules), "gate.json");
        var apply = GateRuns.Sluice(_testbed, "gate", "apply", "-c", config);
        Assert.True(apply.Ok, apply.ToString());
        return config;
    }

    [Fact]
    public void Disable_Refuses_WhileAProtectedAppRuns_AndKillAppsEndsItFirst()
    {
        ApplyProtected();
        // An app that ignores SIGTERM, so the SIGKILL after the grace period is exercised too.
        var app = _testbed.StartIn(_testbed.Client, [.. SluiceBinary.Command(), "exec", "--lane", "protected", "--", "sh", "-c", "trap '' TERM; echo started; while true; do sleep 0.1; done"]);
        Assert.Equal("started", GateRuns.FirstLine(app));

        var refused = GateRuns.Sluice(_testbed, "gate", "disable", "--root", Root);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("refusing to open the gate", refused.Stderr);
        Assert.Contains(app.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), refused.Stderr);
        Assert.True(GateRuns.TablePresent(_testbed));

        var status = GateRuns.Sluice(_testbed, "gate", "status", "--root", Root);
        Assert.Contains("gate: CLOSED", status.Stdout);
        Assert.Contains($"{app.Id} sh", status.Stdout);

        var opened = GateRuns.Sluice(_testbed, "gate", "disable", "--kill-apps", "--grace", "1", "--root", Root);
        Assert.True(opened.Ok, opened.ToString());
        Assert.Contains("SIGKILL after the grace period", opened.Stdout);
        Assert.True(app.WaitForExit(5000), "the protected app survived --kill-apps");
        Assert.False(GateRuns.TablePresent(_testbed));
    }

    [Fact]
    public void Disable_WithNoAppsRunning_AsksFirst_AndOpensWithYes()
    {
        ApplyProtected();
        var asked = GateRuns.Sluice(_testbed, "gate", "disable", "--root", Root); // stdin is not a terminal: the answer is no
        Assert.Equal(1, asked.ExitCode);
        Assert.Contains("gate left closed", asked.Stderr);
        Assert.True(GateRuns.TablePresent(_testbed));

        var opened = GateRuns.Sluice(_testbed, "gate", "disable", "--yes", "--root", Root);
        Assert.True(opened.Ok, opened.ToString());
        Assert.False(GateRuns.TablePresent(_testbed));
    }

    [Fact]
    public void KillApps_EndsOnlyProtectedApps()
    {
        ApplyProtected();
        var held = _testbed.StartIn(_testbed.Client, [.. SluiceBinary.Command(), "exec", "--lane", "protected", "--", "sleep", "60"]);
        var free = _testbed.StartIn(_testbed.Client, "sleep", "60");
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!GateRuns.Sluice(_testbed, "gate", "status").Stdout.Contains($"{held.Id} sleep", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
            Thread.Sleep(100);

        var result = GateRuns.Sluice(_testbed, "kill-apps", "--grace", "2");
        Assert.True(result.Ok, result.ToString());
        Assert.True(held.WaitForExit(5000));
        Assert.False(free.HasExited);
    }

    [Fact]
    public void Exec_Refuses_WhenNoGateIsLoaded()
    {
        var result = GateRuns.Sluice(_testbed, "exec", "--lane", "protected", "--", "true");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("no gate is loaded", result.Stderr);
    }

    [Fact]
    public void Status_NamesTheAppsItCannotHold()
    {
        string config = ApplyProtected("""{"process_name": "telemetryd", "outbound": "block"}""");
        var status = GateRuns.Sluice(_testbed, "gate", "status", "-c", config, "--root", Root);
        Assert.True(status.Ok, status.ToString());
        Assert.Contains("cannot hold: apps matched by process_name \"telemetryd\"", status.Stdout);
        Assert.Contains($"processes in cgroup \"{_cgroup}\"", status.Stdout);
        Assert.Contains("boot: no unit enabled", status.Stdout);
    }

    [Fact]
    public void Enable_WritesAnEnabledUnit_ThatSystemdAnalyzeAccepts()
    {
        string config = GateRuns.WriteConfig(_testbed, GateRuns.Config($$"""{"mode": "all", "cgroup": "{{_cgroup}}"}"""), "gate.json");
        const string HostUnit = "/etc/systemd/system/sluice-gate.service";
        bool hostUnitBefore = File.Exists(HostUnit);
        var result = GateRuns.Sluice(_testbed, "gate", "enable", "-c", config, "--root", Root);
        Assert.True(result.Ok, result.ToString());
        Assert.True(SystemdUnit.IsEnabled(Root));
        string unit = File.ReadAllText(SystemdUnit.UnitPath(Root));
        Assert.Contains("DefaultDependencies=no", unit);
        Assert.Contains("Before=network-pre.target", unit);
        Assert.Contains($"gate apply -c {config}", unit);
        var verify = Exec.Run(TimeSpan.FromSeconds(60), "systemd-analyze", "verify", SystemdUnit.UnitPath(Root));
        Assert.True(verify.Ok, "systemd-analyze verify: " + verify);
        Assert.Equal(hostUnitBefore, File.Exists(HostUnit)); // nothing written outside --root

        var disabled = GateRuns.Sluice(_testbed, "gate", "disable", "--yes", "--root", Root);
        Assert.True(disabled.Ok, disabled.ToString());
        Assert.False(File.Exists(SystemdUnit.UnitPath(Root)));
    }

    public void Dispose()
    {
        _testbed.Dispose();
        GateRuns.RemoveCgroup(_cgroup);
    }
}
