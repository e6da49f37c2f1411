using Sluice.Cli.Testbed;

namespace Sluice.E2E;

/// <summary>
/// A loaded gate is not weakened by a config without the consent `gate disable` asks for: the daemon's API
/// refuses it (code 7), `gate apply` asks. The oracle is the kernel's table, read back after each attempt.
/// </summary>
public sealed class GateWeakeningTests : IDisposable
{
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create(startPeers: false);
    private readonly string _cgroup = GateRuns.NewCgroup();

    private string Gate(string mode) => $$"""{"mode": "{{mode}}", "cgroup": "{{_cgroup}}"}""";

    private string LoadedMode()
    {
        var status = GateRuns.Sluice(_testbed, "gate", "status");
        Assert.True(status.Ok, status.ToString());
        return status.Stdout;
    }

    [Fact]
    public void ApiUp_RefusesAConfigThatWeakensTheLoadedGate_AndKeepsItClosed()
    {
        string all = GateRuns.WriteConfig(_testbed, GateRuns.Config(Gate("all")), "all.json");
        Assert.True(GateRuns.Sluice(_testbed, "gate", "apply", "-c", all).Ok);
        Assert.Contains("mode all", LoadedMode());

        var daemon = DaemonUnderTest.Start(_testbed);
        string weaker = GateRuns.Config(Gate("protected"));
        var refused = daemon.Core("up", $$"""{"config": {{weaker}}}""");
        Assert.Equal(7, refused.GetProperty("code").GetInt32());
        Assert.Contains("mode all", refused.GetProperty("message").GetString());
        Assert.Contains("mode all", LoadedMode());
        Assert.Equal("disconnected", daemon.State());

        // Another interface exempted (the TUN named after the physical link) is a weakening too.
        string eth0 = GateRuns.Config(Gate("all")).Replace("\"sluice0\"", "\"eth0\"", StringComparison.Ordinal);
        var refusedEth0 = daemon.Core("up", $$"""{"config": {{eth0}}}""");
        Assert.Equal(7, refusedEth0.GetProperty("code").GetInt32());
        Assert.Contains("\"eth0\"", refusedEth0.GetProperty("message").GetString());

        // Control: the same gate as loaded comes up.
        var same = daemon.Core("up", $$"""{"config": {{GateRuns.Config(Gate("all"))}}}""");
        Assert.True(same.GetProperty("code").GetInt32() == 0, same.ToString());
        Assert.Contains("mode all", LoadedMode());
        daemon.Core("down");
    }

    [Fact]
    public void GateApply_AsksBeforeWeakening_AndReplacesWithYes()
    {
        string all = GateRuns.WriteConfig(_testbed, GateRuns.Config(Gate("all")), "all.json");
        string weaker = GateRuns.WriteConfig(_testbed, GateRuns.Config(Gate("protected")), "protected.json");
        Assert.True(GateRuns.Sluice(_testbed, "gate", "apply", "-c", all).Ok);

        var asked = GateRuns.Sluice(_testbed, "gate", "apply", "-c", weaker); // no terminal: the answer is no
        Assert.Equal(1, asked.ExitCode);
        Assert.Contains("would weaken the loaded gate", asked.Stderr);
        Assert.Contains("mode all", LoadedMode());

        var replaced = GateRuns.Sluice(_testbed, "gate", "apply", "-c", weaker, "--yes");
        Assert.True(replaced.Ok, replaced.ToString());
        Assert.Contains("mode protected", LoadedMode());
    }

    public void Dispose()
    {
        _testbed.Dispose();
        GateRuns.RemoveCgroup(_cgroup);
    }
}
