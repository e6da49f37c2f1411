using System.Text.RegularExpressions;
using Sluice.Hosting.Linux;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// `sluice run` inside `ip netns exec` sets up its TUN, routes, rules and nftables table in process (rtnetlink,
/// libnftables). What it installs must equal what the ip/nft programs install (SLUICE_PLATFORM_PROGRAMS=1, the
/// former path), go away entirely at stop, and a killed run's leftovers must be replaced, not stacked.
/// </summary>
public sealed class InProcessNetlinkTests : IDisposable
{
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();

    private string Run(params string[] argv) => _testbed.RunInClient(TimeSpan.FromSeconds(10), argv).Stdout;

    /// <summary>
    /// The baseline waits until the namespace's IPv6 addresses have passed duplicate address detection: a new veth's
    /// link-local address gets its <c>local fe80::…</c> route only then, which would otherwise show up between two
    /// snapshots as if the engine had added it.
    /// </summary>
    private string SettledState()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (Run("ip", "-6", "address", "show", "tentative").Trim().Length > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "IPv6 addresses still tentative after 10 s:\n" + Run("ip", "-6", "address", "show"));
            Thread.Sleep(100);
        }
        return State();
    }

    /// <summary>Rules, every route of both families, the whole ruleset and the TUN's link and addresses.</summary>
    private string State()
    {
        string state = string.Join("\n---\n",
            Run("ip", "rule", "show"), Run("ip", "-6", "rule", "show"),
            Run("ip", "route", "show", "table", "all"), Run("ip", "-6", "route", "show", "table", "all"),
            Run("nft", "list", "ruleset"),
            Run("ip", "-d", "link", "show", "dev", "sluice0"), Run("ip", "address", "show", "dev", "sluice0"));
        // Each run's TUN gets a new ifindex; address lifetimes tick.
        state = Regex.Replace(state, @"(?m)^\d+: ", "N: ");
        return Regex.Replace(state, @"(valid_lft|preferred_lft) \S+", "$1 _");
    }

    private EngineProcess Start(bool programs)
    {
        string path = Path.Combine(_testbed.WorkDir, "netlink.json");
        File.WriteAllText(path, EngineConfigs.Tun(extraTun: ", \"strict_route\": true, \"route_exclude_address\": [\"10.99.0.0/16\", \"fd99::/16\"], \"exclude_uid\": [1000]"));
        string[] env = programs ? ["env", "SLUICE_PLATFORM_PROGRAMS=1"] : ["env", "-u", "SLUICE_PLATFORM_PROGRAMS"];
        return new EngineProcess(_testbed.StartIn(_testbed.Client, [.. env, .. SluiceBinary.Command(), "run", "-c", path])).WaitStarted();
    }

    private void Stop(EngineProcess engine)
    {
        engine.Signal(Exec.SigTerm);
        Assert.True(engine.WaitForExit(TimeSpan.FromSeconds(5)), "sluice did not exit:\n" + engine.Log);
        Assert.Equal(0, engine.ExitCode);
    }

    [Fact]
    public void InProcessSetup_InstallsWhatTheIpAndNftProgramsInstall_AndStopRemovesAll()
    {
        string before = SettledState();
        var programs = Start(programs: true);
        string expected = State();
        Stop(programs);
        Assert.Equal(before, State());
        Assert.Contains("not from all fwmark", expected);
        Assert.Contains("uidrange 1000-1000", expected);
        Assert.Contains("throw fd99::/16", expected);
        Assert.Contains("table inet sluice_route", expected);
        Assert.Contains("mtu", expected);

        var inProcess = Start(programs: false);
        Assert.Equal(expected, State());
        // The engine reaches the server through its own TUN, as before.
        var curl = _testbed.RunInClient(TimeSpan.FromSeconds(30), "curl", "-sS", "--max-time", "10", EngineConfigs.ServerUrl());
        Assert.True(curl.Ok, curl + "\n" + inProcess.Log);
        Stop(inProcess);
        Assert.Equal(before, State());
    }

    [Fact]
    public void AKilledRunsLeftovers_AreRemovedInProcess_AtTheNextStart()
    {
        string before = SettledState();
        var killed = Start(programs: false);
        string running = State();
        killed.Signal(Exec.SigKill);
        Assert.True(killed.WaitForExit(TimeSpan.FromSeconds(5)));
        Assert.NotEqual(before, State()); // rules, table routes and the nft table outlive a SIGKILL

        var next = Start(programs: false);
        Assert.Equal(running, State()); // one copy of each, not two
        Stop(next);
        Assert.Equal(before, State());
    }

    public void Dispose() => _testbed.Dispose();
}
