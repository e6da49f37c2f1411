using Sluice.Hosting.Linux;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>`sluice run` leaves nothing behind when stopped, and recovers after being killed.</summary>
public sealed class LifecycleTests : IDisposable
{
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();

    /// <summary>
    /// What Sluice could leave behind: policy rules (compared whole), and anything naming its TUN,
    /// its routing table or its nftables table. Kernel noise (link-local routes appearing) is ignored.
    /// </summary>
    private string State()
    {
        string Run(params string[] argv) => _testbed.RunInClient(TimeSpan.FromSeconds(10), argv).Stdout;
        var traces = string.Join("\n", Run("ip", "route", "show", "table", "all"), Run("ip", "-6", "route", "show", "table", "all"),
                Run("ip", "-o", "link", "show"), Run("nft", "list", "ruleset"))
            .Split('\n')
            .Where(l => l.Contains("sluice", StringComparison.Ordinal) || l.Contains("5140", StringComparison.Ordinal));
        return string.Join("\n", Run("ip", "rule", "show"), Run("ip", "-6", "rule", "show"), string.Join("\n", traces));
    }

    [Theory]
    [InlineData(Exec.SigTerm)]
    [InlineData(Exec.SigInt)]
    public void Stop_RemovesEveryRuleRouteAndInterface_WithinTwoSeconds(int signal)
    {
        string before = State();
        var engine = _testbed.StartEngine(EngineConfigs.Tun()).WaitStarted();
        StopsCleanly(engine, signal, before);
    }

    /// <summary>
    /// A shell starts a background job (`sluice run … &amp;` in a script, a CI step) with SIGINT ignored, and .NET keeps an
    /// inherited ignore: the engine went on running after `kill -INT` (seen as this class failing only when the test
    /// run itself was started in the background).
    /// </summary>
    [Fact]
    public void Sigint_StopsTheEngine_EvenWhenItsParentStartedItWithSigintIgnored()
    {
        const string ignoringSigint = "trap '' INT; exec \"$@\"";
        // The wrapper really hands an ignored SIGINT on (bit 2 of SigIgn): a shell that did not would prove nothing.
        string mask = _testbed.RunInClient(TimeSpan.FromSeconds(5), "sh", "-c", ignoringSigint, "sh", "grep", "SigIgn", "/proc/self/status").Stdout;
        Assert.True((Convert.ToUInt64(mask.Split(':')[1].Trim(), 16) & 0x2) != 0, mask);

        string before = State();
        string config = Path.Combine(_testbed.WorkDir, "config.json");
        File.WriteAllText(config, EngineConfigs.Tun());
        var engine = new EngineProcess(_testbed.StartIn(_testbed.Client, ["sh", "-c", ignoringSigint, "sh", .. SluiceBinary.Command(), "run", "-c", config])).WaitStarted();
        StopsCleanly(engine, Exec.SigInt, before);
    }

    private void StopsCleanly(EngineProcess engine, int signal, string before)
    {
        Assert.Contains("sluice0", State());

        var stopping = System.Diagnostics.Stopwatch.StartNew();
        engine.Signal(signal);
        Assert.True(engine.WaitForExit(TimeSpan.FromSeconds(2)), "sluice did not exit within 2 s:\n" + engine.Log);
        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(2));
        Assert.Equal(0, engine.ExitCode);

        Assert.Equal(before, State());
    }

    [Fact]
    public void StartAfterSigkill_CleansStaleRulesAndWorks()
    {
        string before = State();
        var first = _testbed.StartEngine(EngineConfigs.Tun()).WaitStarted();
        first.Signal(Exec.SigKill);
        Assert.True(first.WaitForExit(TimeSpan.FromSeconds(5)));
        Assert.NotEqual(before, State()); // the killed engine could not clean up its policy rules

        var second = _testbed.StartEngine(EngineConfigs.Tun()).WaitStarted();
        var result = _testbed.RunInClient(TimeSpan.FromSeconds(30), "curl", "-sS", "--max-time", "10", EngineConfigs.ServerUrl());
        Assert.True(result.Ok, result + "\n" + second.Log);
        // Exactly one rule per family: the stale ones were replaced, not duplicated.
        var rules = _testbed.RunInClient(TimeSpan.FromSeconds(5), "ip", "rule", "show").Stdout;
        Assert.Single(rules.Split('\n'), l => l.Contains("not from all fwmark", StringComparison.Ordinal));

        second.Signal(Exec.SigTerm);
        Assert.True(second.WaitForExit(TimeSpan.FromSeconds(2)));
        Assert.Equal(before, State());
    }

    public void Dispose() => _testbed.Dispose();
}
