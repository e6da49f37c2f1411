using System.Diagnostics;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// SIGTERM in the state the soak's hung stops were in (issue 17): gate mode all, the upstream DNS silent and the
/// hijacked DNS's pending queue at its cap. systemd gives the daemon 15 s before SIGKILL; it must be gone in 2,
/// and the gate (nftables, not a process) must keep holding the apps once it is.
/// </summary>
public sealed class DaemonStopTests : IDisposable
{
    private const string FloodScript = """
        import random, socket, struct, sys, time
        d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        end = time.time() + float(sys.argv[1])
        while time.time() < end:
            name = "".join(random.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(16)) + ".flood.test"
            q = struct.pack("!HHHHHH", random.randint(0, 65535), 0x0100, 1, 0, 0, 0)
            q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack("!HH", 1, 1)
            try: d.sendto(q, ("203.0.113.53", 53))
            except OSError: pass
            time.sleep(0.002)
        """;

    private static readonly string Syn = $"ip.dst=={NamespaceTestbed.ServerV4} && tcp.dstport=={NamespaceTestbed.HttpPort} && tcp.flags.syn==1 && tcp.flags.ack==0";
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();

    [Fact]
    public void Sigterm_WithThePendingDnsQueueFull_TheDaemonExitsWithinTwoSeconds_AndTheGateHolds()
    {
        // Silent: the router drops what goes to the "upstream" DNS, without an ICMP error.
        _testbed.RunInRouter(TimeSpan.FromSeconds(10), "ip", "route", "add", "blackhole", "198.51.100.0/24");
        string dns = """{"servers": [{"type": "udp", "tag": "silent", "server": "198.51.100.53"}], "final": "silent"}""";
        string config = EngineConfigs.Tun("""{"port": 53, "action": "hijack-dns"}""")
            .Replace("\"route\":", $"\"dns\": {dns},\n  \"route\":", StringComparison.Ordinal);
        config = config.TrimEnd().TrimEnd('}') + """, "gate": {"mode": "all"}}""";
        // Positive control of the oracle below: before any engine or gate, the app's SYNs are seen on the physical link.
        var control = GateRuns.CaptureWhile(_testbed, "stop-control", Syn,
            () => _testbed.RunInClient(TimeSpan.FromSeconds(20), "sh", "-c", "curl -sS --max-time 3 " + EngineConfigs.ServerUrl()));
        Assert.True(control.Count > 0, "positive control: no SYN seen on eth0 without the gate, so the oracle proves nothing");
        var daemon = DaemonUnderTest.Start(_testbed);
        string path = daemon.WriteConfig(config);
        Assert.Equal(0, daemon.Core("up", $$"""{"config_path": "{{path}}"}""").GetProperty("code").GetInt32());
        Assert.True(_testbed.RunInClient(TimeSpan.FromSeconds(20), "curl", "-sS", "--max-time", "10", EngineConfigs.ServerUrl()).Ok);

        string script = Path.Combine(_testbed.WorkDir, "dns-flood.py");
        File.WriteAllText(script, FloodScript);
        var flood = _testbed.StartIn(_testbed.Client, "python3", script, "60");
        try
        {
            Assert.True(daemon.Process.WaitFor("DNS queries waiting for an upstream are at the limit", TimeSpan.FromSeconds(30)),
                "the pending-query cap never engaged: the stop below proves nothing\n" + daemon.Process.Log);
            // The flood goes on while the daemon is told to stop.
            var clock = Stopwatch.StartNew();
            daemon.Process.Signal(Exec.SigTerm);
            bool exited = daemon.Process.WaitForExit(TimeSpan.FromSeconds(20));
            clock.Stop();
            Assert.True(exited, "the daemon did not exit within 20 s of SIGTERM\n" + daemon.Process.Log);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2),
                $"the daemon took {clock.Elapsed.TotalSeconds:F1} s to exit after SIGTERM (bound 2 s)\n{daemon.Process.Log[^Math.Min(daemon.Process.Log.Length, 3000)..]}");
        }
        finally
        {
            Exec.Kill(flood);
        }

        // No daemon, no engine: the gate still drops the apps' traffic, and nothing reaches the wire.
        ExecResult whileDown = default!;
        var held = GateRuns.CaptureWhile(_testbed, "daemon-stopped", Syn,
            () => whileDown = _testbed.RunInClient(TimeSpan.FromSeconds(20), "sh", "-c", "curl -sS --max-time 3 " + EngineConfigs.ServerUrl()));
        Assert.False(whileDown.Ok, "the app reached the server after the daemon stopped: " + whileDown);
        Assert.True(held.Count == 0, $"{held.Count} SYN(s) left on eth0 after the daemon stopped:\n{held.Packets}");
    }

    public void Dispose() => _testbed.Dispose();
}
