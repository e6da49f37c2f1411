using System.Diagnostics;
using Sluice.Hosting.Linux;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// Finding 6 of issue 17, the documented limit of mode protected (docs/gate.md, Limits): with the engine dead, a
/// held app that asks a local stub resolver (dnsmasq on 127.0.0.53, standing in for systemd-resolved) has its
/// query passed over loopback, and the resolver, which is not held, sends the name out in the clear. The first
/// case shows the limit is real (and doubles as the oracle's positive control); the second shows the documented
/// remedy, mode all, holds the resolver too: the same name never reaches the wire.
/// </summary>
public sealed class GateStubResolverTests : IDisposable
{
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();
    private readonly string _cgroup = GateRuns.NewCgroup();

    [Theory]
    [InlineData("protected", true)]
    [InlineData("all", false)]
    public void HeldAppsName_ViaALocalStubResolver_WithTheEngineDead_LeavesOnlyInModeProtected(string mode, bool leaks)
    {
        string gate = $$"""{"mode": "{{mode}}", "cgroup": "{{_cgroup}}"}""";
        var engine = _testbed.StartEngine(GateRuns.Config(gate), $"stub-{mode}.json").WaitStarted();
        Assert.True(GateRuns.TablePresent(_testbed), "sluice run did not load the config's gate\n" + engine.Log);
        engine.Signal(Exec.SigKill);
        Assert.True(engine.WaitForExit(TimeSpan.FromSeconds(5)), "the engine did not die from SIGKILL");
        Assert.True(GateRuns.TablePresent(_testbed), "the gate went with the engine");

        string log = Path.Combine(_testbed.WorkDir, $"dnsmasq-{mode}.log");
        var stub = _testbed.StartIn(_testbed.Client, "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
            "--listen-address=127.0.0.53", "--bind-interfaces", "--port=53", $"--server={NamespaceTestbed.ServerV4}", "--cache-size=0",
            "--user=root", "--pid-file", "--log-queries", $"--log-facility={log}");
        WaitForFile(log);

        string name = $"leak-{Guid.NewGuid():N}"[..20] + ".example";
        string[] dig = ["dig", "+tries=3", "+time=1", "@127.0.0.53", name];
        string[] app = mode == "protected" ? [.. SluiceBinary.Command(), "exec", "--lane", "protected", "--", .. dig] : dig;
        int onWire;
        string packets;
        using (var capture = new WireCapture(_testbed, $"stub-{mode}", "udp port 53 or tcp port 53"))
        {
            _testbed.RunInClient(TimeSpan.FromSeconds(60), app);
            Thread.Sleep(1000);
            onWire = capture.Count($"dns.qry.name == \"{name}\"");
            packets = capture.Describe("dns");
        }
        Exec.Kill(stub);

        // The app did ask the stub either way: the question was held, or not, after it.
        Assert.Contains(name, File.ReadAllText(log));
        if (leaks) Assert.True(onWire > 0, $"mode protected: the stub resolver's upstream query for {name} was expected on eth0 (the documented limit), and the oracle saw none:\n{packets}");
        else Assert.True(onWire == 0, $"mode all: {onWire} query(ies) for {name} left on eth0 through the stub resolver:\n{packets}");
    }

    private static void WaitForFile(string path)
    {
        var clock = Stopwatch.StartNew();
        while (!File.Exists(path) || new FileInfo(path).Length == 0)
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(20)) throw new InvalidOperationException($"dnsmasq did not start (no log at {path})");
            Thread.Sleep(100);
        }
    }

    public void Dispose()
    {
        _testbed.Dispose();
        GateRuns.RemoveCgroup(_cgroup);
    }
}
