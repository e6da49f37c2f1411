using System.Diagnostics;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// The gate's core promise, checked on the wire: after `kill -9` of the engine, nothing the
/// protected app sends leaves on the physical interface, and the gate's table is never absent.
/// Each case first runs its positive control (no gate): the same probes ARE seen.
/// </summary>
public sealed class GateLeakTests : IDisposable
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(10);
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();
    private readonly string _cgroup = GateRuns.NewCgroup();

    /// <param name="held">cgroup: `sluice exec --lane protected`; uid: gate.uid; all: mode all, a plain process.</param>
    [Theory]
    [InlineData("cgroup")]
    [InlineData("uid")]
    [InlineData("all")]
    public void ProtectedApp_HasNoPathOut_AfterEngineIsKilled(string held)
    {
        string gate = held switch
        {
            "cgroup" => $$"""{"mode": "protected", "cgroup": "{{_cgroup}}"}""",
            "uid" => $$"""{"mode": "protected", "uid": [{{GateRuns.ProtectedUid}}], "cgroup": "{{_cgroup}}"}""",
            _ => $$"""{"mode": "all", "cgroup": "{{_cgroup}}"}""",
        };
        string app = held == "all" ? "plain" : held;

        // Positive control: the gate is opened (`gate disable --yes` while the app runs), the engine is
        // killed, and every probe kind shows up on eth0.
        var control = KillEngineAndCapture(gate, app, TimeSpan.FromSeconds(4), openGateFirst: true);
        foreach (var (name, count) in control.Counts)
            Assert.True(count > 0, $"positive control: no {name} probe seen on eth0 without the gate, so the oracle proves nothing\n{control.Log}");

        var run = KillEngineAndCapture(gate, app, Window, openGateFirst: false);
        foreach (var (name, count) in run.Counts)
            Assert.True(count == 0, $"{count} {name} probe packet(s) of the protected app left on eth0 after kill -9:\n{run.Leaked}\n{run.Log}");
        Assert.True(run.TableAlwaysPresent, $"table inet sluice was absent at some moment after the kill:\n{run.Log}");
        Assert.True(run.Checks > 20, $"the table was checked only {run.Checks} times");
        Assert.True(run.Dropped > 0, "the gate's drop counter did not move: the probes were not even attempted?\n" + run.Log);
    }

    private sealed record KillRun(List<(string Name, int Count)> Counts, bool TableAlwaysPresent, int Checks, long Dropped, string Leaked, string Log);

    private KillRun KillEngineAndCapture(string gate, string app, TimeSpan window, bool openGateFirst)
    {
        var engine = _testbed.StartEngine(GateRuns.Config(gate), openGateFirst ? "control.json" : "gate.json").WaitStarted();
        Assert.True(GateRuns.TablePresent(_testbed), "sluice run did not load the config's gate\n" + engine.Log);
        var probe = GateRuns.StartProbe(_testbed, app);
        Thread.Sleep(1000);
        if (openGateFirst)
        {
            var open = GateRuns.Sluice(_testbed, "gate", "disable", "--yes", "--root", Path.Combine(_testbed.WorkDir, "root"));
            Assert.True(open.Ok, open.ToString());
            Assert.False(GateRuns.TablePresent(_testbed));
        }

        using var capture = new WireCapture(_testbed, openGateFirst ? "control" : "gate");
        bool alwaysPresent = true;
        int checks = 0;
        using var stopWatching = new CancellationTokenSource();
        var watcher = openGateFirst ? Task.CompletedTask : Task.Run(() =>
        {
            while (!stopWatching.IsCancelled())
            {
                if (!GateRuns.TablePresent(_testbed)) alwaysPresent = false;
                checks++;
            }
        });

        engine.Signal(Exec.SigKill);
        Assert.True(engine.WaitForExit(TimeSpan.FromSeconds(5)), "the engine did not die from SIGKILL");
        double deadAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        Thread.Sleep(window);
        stopWatching.Cancel();
        watcher.Wait(TimeSpan.FromSeconds(15));
        long dropped = openGateFirst ? 0 : GateRuns.DroppedPackets(_testbed);
        Exec.Kill(probe);
        capture.Stop();

        string after = $"frame.time_epoch >= {deadAt.ToString("F3", System.Globalization.CultureInfo.InvariantCulture)}";
        var counts = GateProbes.Filters.Select(f => (f.Name, capture.Count($"({f.Filter}) && {after}"))).ToList();
        string leaked = capture.Describe($"({string.Join(" || ", GateProbes.Filters.Select(f => "(" + f.Filter + ")"))}) && {after}");
        string log = string.Join('\n', engine.Lines.TakeLast(15));
        return new KillRun(counts, alwaysPresent, checks, dropped, leaked, log);
    }

    public void Dispose()
    {
        _testbed.Dispose();
        GateRuns.RemoveCgroup(_cgroup);
    }
}

internal static class CancellationExtensions
{
    public static bool IsCancelled(this CancellationTokenSource source) => source.IsCancellationRequested;
}
