using Sluice.Hosting.Linux;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// Ways around the TUN that routing alone would let out: binding to the physical interface, raw
/// sockets, `ping -I`, IPv6 on a v4-only tunnel. The gate drops them for protected apps; the positive
/// control runs the same commands as an unprotected process (the gate holds only protected apps).
/// </summary>
public sealed class GateBypassTests : IDisposable
{
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();
    private readonly string _cgroup = GateRuns.NewCgroup();

    private const string RawIcmpBoundToEth0 = """
        import socket, struct
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
        body = struct.pack("!BBHHH", 8, 0, 0, 7, 1) + b"raw"
        padded = body + b"\0" * (len(body) % 2)
        c = sum(struct.unpack("!%dH" % (len(padded) // 2), padded)); c = (c >> 16) + (c & 0xffff); c = ~(c + (c >> 16)) & 0xffff
        for _ in range(3): s.sendto(struct.pack("!BBHHH", 8, 0, c, 7, 1) + b"raw", ("203.0.113.10", 0))
        """;

    /// <summary>One way around the TUN, and the packets on eth0 that are its own.</summary>
    private sealed record BypassProbe(string Name, string Filter, string[] Argv);

    private static readonly BypassProbe[] Probes =
    [
        new("curl --interface eth0 (v4)", $"ip.dst=={NamespaceTestbed.ServerV4} && tcp.dstport=={NamespaceTestbed.HttpPort} && tcp.flags.syn==1 && tcp.flags.ack==0",
            ["curl", "-sS", "--max-time", "3", "--interface", "eth0", EngineConfigs.ServerUrl()]),
        new("curl --interface eth0 (v6)", $"ipv6.dst=={NamespaceTestbed.ServerV6} && tcp.dstport=={NamespaceTestbed.HttpPort} && tcp.flags.syn==1 && tcp.flags.ack==0",
            ["curl", "-sS", "--max-time", "3", "--interface", "eth0", EngineConfigs.ServerUrl(v6: true)]),
        new("ping -I eth0", $"ip.dst=={NamespaceTestbed.ServerV4} && icmp.type==8 && !(data.data contains 72:61:77)",
            ["ping", "-c", "2", "-i", "0.2", "-W", "1", "-I", "eth0", NamespaceTestbed.ServerV4]),
        new("ping -6 -I eth0", $"ipv6.dst=={NamespaceTestbed.ServerV6} && icmpv6.type==128",
            ["ping", "-6", "-c", "2", "-i", "0.2", "-W", "1", "-I", "eth0", NamespaceTestbed.ServerV6]),
        new("raw ICMP socket bound to eth0", $"ip.dst=={NamespaceTestbed.ServerV4} && icmp.type==8 && data.data contains 72:61:77",
            ["python3", "-c", RawIcmpBoundToEth0]),
    ];

    /// <summary>
    /// Runs one probe in the client namespace, as a protected app (`sluice exec --lane protected`) or a
    /// plain one. The probe prints a marker before it starts, so a `sluice exec` that failed (and so sent
    /// nothing) can never pass for a held probe.
    /// </summary>
    private ExecResult Run(BypassProbe probe, bool asProtected)
    {
        string[] marked = ["sh", "-c", "echo probe-started; exec \"$@\"", "probe", .. probe.Argv];
        string[] argv = asProtected ? [.. SluiceBinary.Command(), "exec", "--lane", "protected", "--", .. marked] : marked;
        var result = _testbed.RunInClient(TimeSpan.FromSeconds(60), argv);
        Assert.True(result.Stdout.Contains("probe-started", StringComparison.Ordinal),
            $"{probe.Name} never ran ({(asProtected ? "sluice exec" : "plain")}): {result}");
        return result;
    }

    [Fact]
    public void InterfaceBinding_RawSockets_AndPingI_FromAProtectedApp_AreDropped()
    {
        var engine = _testbed.StartEngine(GateRuns.Config($$"""{"mode": "protected", "cgroup": "{{_cgroup}}"}""")).WaitStarted();

        foreach (var probe in Probes)
        {
            // Positive control, per probe: the same command as an unprotected process succeeds and is seen on eth0.
            ExecResult plain = default!;
            var control = GateRuns.CaptureWhile(_testbed, "control", probe.Filter, () => plain = Run(probe, asProtected: false));
            Assert.True(plain.Ok, $"positive control: {probe.Name} failed without the gate holding it: {plain}");
            Assert.True(control.Count > 0, $"positive control: {probe.Name} was not seen on eth0, so the oracle proves nothing:\n{plain}");

            long droppedBefore = GateRuns.DroppedPackets(_testbed);
            ExecResult heldRun = default!;
            var held = GateRuns.CaptureWhile(_testbed, "held", probe.Filter, () => heldRun = Run(probe, asProtected: true));
            long droppedAfter = GateRuns.DroppedPackets(_testbed);
            Assert.False(heldRun.Ok, $"{probe.Name} succeeded from the protected app: {heldRun}");
            Assert.True(held.Count == 0, $"{held.Count} packet(s) of the protected app's {probe.Name} left on eth0:\n{held.Packets}\n{engine.Log}");
            Assert.True(droppedAfter > droppedBefore, $"the gate's drop counter did not move for {probe.Name} ({droppedBefore} → {droppedAfter}): was it even attempted?\n{heldRun}");
        }
    }

    [Fact]
    public void Ipv6_OnAV4OnlyTunnel_NeverLeavesFromTheProtectedApp()
    {
        string config = GateRuns.Config($$"""{"mode": "protected", "cgroup": "{{_cgroup}}"}""", tunAddress: "\"172.19.0.1/30\"");
        var engine = _testbed.StartEngine(config).WaitStarted();
        string v6 = "ipv6 && !(icmpv6.type >= 133 && icmpv6.type <= 137) && !(icmpv6.type == 143) && !(udp.port == 546 || udp.port == 547)";

        var control = GateRuns.CaptureWhile(_testbed, "v6-control", v6, () =>
        {
            var plain = GateRuns.StartProbe(_testbed, "plain");
            Thread.Sleep(2000);
            Exec.Kill(plain);
        });
        Assert.True(control.Count > 0, "positive control: an unprotected app's IPv6 should leave (the tunnel is v4-only)");

        Exec.Kill(GateRuns.StartProbe(_testbed, "cgroup")); // warm-up: dotnet start of `sluice exec` outside the window
        var held = GateRuns.CaptureWhile(_testbed, "v6-held", v6, () =>
        {
            var probe = GateRuns.StartProbe(_testbed, "cgroup");
            Thread.Sleep(3000);
            Exec.Kill(probe);
        });
        Assert.True(held.Count == 0, $"{held.Count} IPv6 packet(s) (other than ND/DHCPv6) left on eth0 from the protected app:\n{held.Packets}\n{engine.Log}");
    }

    [Fact]
    public void MarkedTraffic_StillPasses_AndTheEnginesTrafficWorksInModeAll()
    {
        string config = GateRuns.Config($$"""{"mode": "all", "cgroup": "{{_cgroup}}"}""");
        string path = GateRuns.WriteConfig(_testbed, config, "all.json");
        Assert.True(GateRuns.Sluice(_testbed, "gate", "apply", "-c", path).Ok);

        // No engine: unmarked traffic is held, traffic with Sluice's mark passes.
        var unmarked = _testbed.RunInClient(TimeSpan.FromSeconds(10), "ping", "-c", "1", "-W", "1", NamespaceTestbed.ServerV4);
        Assert.False(unmarked.Ok, "mode all let an unmarked ping out with no engine running");
        var marked = _testbed.RunInClient(TimeSpan.FromSeconds(10), "ping", "-c", "1", "-W", "2", "-m", "21324" /* 0x534c */, NamespaceTestbed.ServerV4);
        Assert.True(marked.Ok, "a ping carrying Sluice's mark was dropped: " + marked);

        // With the engine: every app reaches the server through it (the engine's sockets carry the mark).
        var engine = _testbed.StartEngine(config).WaitStarted();
        var curl = _testbed.RunInClient(TimeSpan.FromSeconds(30), "curl", "-sS", "--max-time", "10", EngineConfigs.ServerUrl());
        Assert.True(curl.Ok, curl + "\n" + engine.Log);
        var curl6 = _testbed.RunInClient(TimeSpan.FromSeconds(30), "curl", "-sS", "--max-time", "10", EngineConfigs.ServerUrl(v6: true));
        Assert.True(curl6.Ok, curl6 + "\n" + engine.Log);
    }

    public void Dispose()
    {
        _testbed.Dispose();
        GateRuns.RemoveCgroup(_cgroup);
    }
}
