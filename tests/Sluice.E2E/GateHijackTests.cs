using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// Route hijacks: a DHCP server pushing option-121 routes (TunnelVision), and a "LAN" on a public
/// prefix (TunnelCrack LocalNet). Sluice names the route in a warning and the gate keeps the app's
/// traffic from leaving once the engine is gone. Positive control first: without gate and engine,
/// the hijacking route does carry the probes out.
/// </summary>
public sealed class GateHijackTests : IDisposable
{
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();
    private readonly string _cgroup = GateRuns.NewCgroup();

    private const string DhcpScript = """
        #!/bin/sh
        # udhcpc event script, as a distribution's would: address, then the classless static routes.
        case "$1" in
          bound|renew)
            ip addr replace "$ip/${mask:-24}" dev "$interface"
            set -- $staticroutes
            while [ $# -ge 2 ]; do ip route replace "$1" via "$2" dev "$interface" proto dhcp; shift 2; done
            ;;
        esac
        """;

    private void StartDhcpServer()
    {
        string conf = Path.Combine(_testbed.WorkDir, "udhcpd.conf");
        File.WriteAllText(Path.Combine(_testbed.WorkDir, "udhcpd.leases"), "");
        File.WriteAllText(conf, $"""
            start 10.200.0.100
            end 10.200.0.110
            interface eth0
            lease_file {_testbed.WorkDir}/udhcpd.leases
            pidfile {_testbed.WorkDir}/udhcpd.pid
            option subnet 255.255.255.0
            option router {NamespaceTestbed.RouterV4}
            option staticroutes 203.0.113.0/24 {NamespaceTestbed.RouterV4}
            """);
        _testbed.StartIn(_testbed.Router, "busybox", "udhcpd", "-f", conf);
        Thread.Sleep(500);
    }

    private ExecResult RunDhcpClient()
    {
        string script = Path.Combine(_testbed.WorkDir, "udhcpc.sh");
        File.WriteAllText(script, DhcpScript);
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return _testbed.RunInClient(TimeSpan.FromSeconds(30), "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "5", "-T", "1", "-s", script);
    }

    private bool PushedRoutePresent() =>
        _testbed.RunInClient(TimeSpan.FromSeconds(5), "ip", "route", "show", "203.0.113.0/24").Stdout.Contains("via 10.200.0.1", StringComparison.Ordinal);

    private static string Probes(string s4) => "(" + string.Join(" || ", GateProbes.For(s4, null).Select(f => "(" + f.Filter + ")")) + ")";

    [Fact]
    public void TunnelVision_PushedRoutes_AreNamed_AndCarryNothingOutOnceTheEngineIsKilled()
    {
        StartDhcpServer();

        // Positive control: no gate, no engine, and no default route either, so only the pushed route
        // can carry the probes out of eth0 (without it they would have no route at all).
        var lease = RunDhcpClient();
        Assert.True(lease.Ok && PushedRoutePresent(), "udhcpc did not install the option-121 route: " + lease);
        Assert.True(_testbed.RunInClient(TimeSpan.FromSeconds(5), "ip", "route", "del", "default").Ok);
        try
        {
            var control = GateRuns.CaptureWhile(_testbed, "tv-control", Probes(NamespaceTestbed.ServerV4), () =>
            {
                var plain = GateRuns.StartProbe(_testbed, "plain", "v4");
                Thread.Sleep(2000);
                Exec.Kill(plain);
            });
            Assert.True(control.Count > 0, "positive control: no probe seen on eth0 via the pushed route");
        }
        finally
        {
            _testbed.RunInClient(TimeSpan.FromSeconds(5), "ip", "route", "replace", "default", "via", NamespaceTestbed.RouterV4);
        }
        _testbed.RunInClient(TimeSpan.FromSeconds(5), "ip", "route", "del", "203.0.113.0/24");

        var engine = _testbed.StartEngine(GateRuns.Config($$"""{"mode": "all", "cgroup": "{{_cgroup}}"}""")).WaitStarted();
        var renewed = RunDhcpClient(); // DHCP still works with the gate closed
        Assert.True(renewed.Ok && PushedRoutePresent(), "DHCP did not work with the gate closed: " + renewed);
        Assert.True(engine.WaitFor("route 203.0.113.0/24 via 10.200.0.1 dev eth0", TimeSpan.FromSeconds(10)),
            "no warning named the pushed route:\n" + engine.Log);
        Assert.Contains(engine.Lines, l => l.Contains("TunnelVision", StringComparison.Ordinal) && l.Contains("gate drops", StringComparison.Ordinal));

        var probe = GateRuns.StartProbe(_testbed, "plain", "v4");
        // While the engine runs, the pushed route does not win: the app's flows enter the TUN.
        Assert.True(engine.WaitFor($"{NamespaceTestbed.ServerV4}:9000", TimeSpan.FromSeconds(10)), "the probe's flow did not enter the TUN:\n" + engine.Log);
        engine.Signal(Exec.SigKill);
        Assert.True(engine.WaitForExit(TimeSpan.FromSeconds(5)));
        var held = GateRuns.CaptureWhile(_testbed, "tv-held", Probes(NamespaceTestbed.ServerV4), () => Thread.Sleep(4000));
        Exec.Kill(probe);
        Assert.True(held.Count == 0, $"{held.Count} probe packet(s) left in plaintext via the pushed route:\n{held.Packets}");
    }

    [Fact]
    public void LocalNet_APublicLan_IsNotExempted_EvenWithAllowLan()
    {
        const string PublicLanRouter = "198.51.100.1";
        _testbed.RunInClient(TimeSpan.FromSeconds(5), "ip", "addr", "add", "198.51.100.2/24", "dev", "eth0");
        _testbed.RunInRouter(TimeSpan.FromSeconds(5), "ip", "addr", "add", PublicLanRouter + "/24", "dev", "eth0");
        // The router's line echo listens on every address; the probes' UDP and ICMP need no answer to be counted.

        // Positive control: no gate, no engine; traffic to the "LAN" goes straight out.
        var control = GateRuns.CaptureWhile(_testbed, "ln-control", Probes(PublicLanRouter), () =>
        {
            var plain = GateRuns.StartProbe(_testbed, "plain", "v4", PublicLanRouter);
            Thread.Sleep(2000);
            Exec.Kill(plain);
        });
        Assert.True(control.Count > 0, "positive control: no probe to the public LAN seen on eth0");

        var engine = _testbed.StartEngine(GateRuns.Config($$"""{"mode": "protected", "cgroup": "{{_cgroup}}", "allow_lan": true}""")).WaitStarted();
        Assert.True(engine.WaitFor("the local network 198.51.100.0/24 on eth0", TimeSpan.FromSeconds(10)), "no LocalNet warning:\n" + engine.Log);
        var probe = GateRuns.StartProbe(_testbed, "cgroup", "v4", PublicLanRouter);
        // While the engine runs, the "LAN" traffic enters the TUN (a tunnel lane would encrypt it), not eth0 directly.
        Assert.True(engine.WaitFor($"{PublicLanRouter}:9000", TimeSpan.FromSeconds(10)), "the public-LAN flow did not enter the TUN:\n" + engine.Log);

        engine.Signal(Exec.SigKill);
        Assert.True(engine.WaitForExit(TimeSpan.FromSeconds(5)));
        var held = GateRuns.CaptureWhile(_testbed, "ln-held", Probes(PublicLanRouter), () => Thread.Sleep(4000));
        Exec.Kill(probe);
        Assert.True(held.Count == 0, $"{held.Count} probe packet(s) to the public \"LAN\" left on eth0 with allow_lan on:\n{held.Packets}");
    }

    public void Dispose()
    {
        _testbed.Dispose();
        GateRuns.RemoveCgroup(_cgroup);
    }
}
