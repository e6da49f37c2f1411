using System.Security.Cryptography;
using System.Text.Json;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>The daemon keeps working when the network changes and comes back after being killed.</summary>
public sealed class DaemonLifecycleTests : IDisposable
{
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();

    [Fact]
    public async Task NetworkChange_MidTransfer_GoesReconnectingThenConnected_AndWireGuardTransferCompletes()
    {
        var data = new byte[60 * 1024 * 1024];
        new Random(60).NextBytes(data);
        File.WriteAllBytes(Path.Combine(_testbed.WwwDir, "blob.bin"), data);
        string expected = Convert.ToHexStringLower(SHA256.HashData(data));
        var keys = WireGuardGoPeer.GenerateKeys();
        var peer = WireGuardGoPeer.Start(_testbed, keys.Public);
        string config = peer.SluiceConfig(keys.Private,
            $$"""{"ip_cidr": ["{{NamespaceTestbed.ServerV4}}/32"], "outbound": "wg"}""");
        var daemon = DaemonUnderTest.Start(_testbed);
        Assert.Equal(0, daemon.Core("up", $$"""{"config": {{config}}}""").GetProperty("code").GetInt32());
        // State changes are pushed: follow /api/events for the whole test.
        var events = _testbed.StartIn(_testbed.Client, "curl", "-sS", "-N", "--unix-socket", daemon.Socket, "http://localhost/api/events");
        var lines = new List<string>();
        events.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (lines) lines.Add(e.Data); };
        events.BeginOutputReadLine();

        var download = Task.Run(() => _testbed.RunInClient(TimeSpan.FromSeconds(90), "sh", "-c",
            $"curl -sS --max-time 80 --limit-rate 8M {EngineConfigs.ServerUrl("blob.bin")} | sha256sum"));
        await Task.Delay(2000);
        // The client's physical address and default route change (the Wi-Fi moved).
        const string NewAddress = "10.200.0.3";
        string Client(params string[] argv) => _testbed.RunInClient(TimeSpan.FromSeconds(10), argv).ToString();
        Client("sysctl", "-w", "net.ipv4.conf.eth0.promote_secondaries=1");
        Client("ip", "addr", "add", NewAddress + "/24", "dev", "eth0");
        Client("ip", "addr", "del", NamespaceTestbed.ClientV4 + "/24", "dev", "eth0");
        Client("ip", "route", "replace", "default", "via", NamespaceTestbed.RouterV4, "src", NewAddress);

        var result = await download;
        await Task.Delay(500);
        string[] states;
        lock (lines) states = lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("state").GetString()!).ToArray();
        Exec.Kill(events);

        Assert.True(result.Ok, result + "\n" + daemon.Process.Log);
        Assert.Equal(expected, result.Stdout.Split(' ')[0]);
        int reconnecting = Array.IndexOf(states, "reconnecting");
        Assert.True(reconnecting > 0, "states pushed: " + string.Join(" ", states) + "\n" + daemon.Process.Log);
        Assert.Contains("connected", states[(reconnecting + 1)..]);
        var status = daemon.Core("status").GetProperty("data");
        Assert.Equal("connected", status.GetProperty("state").GetString());
        Assert.True(status.GetProperty("network_changes").GetInt32() >= 1);
        Assert.Equal("eth0", status.GetProperty("physical_interface").GetString());
        Assert.True(daemon.Process.WaitFor("new handshake requested", TimeSpan.FromSeconds(5)), daemon.Process.Log);
        Assert.Contains(NewAddress, peer.Show("endpoints"));
    }

    [Fact]
    public void KilledDaemon_GateHolds_AndTheRestartedDaemonComesBackConnected_OnItsOwn()
    {
        string config = EngineConfigs.Tun().TrimEnd().TrimEnd('}') + """, "gate": {"mode": "all"}}""";
        string syn = $"ip.dst=={NamespaceTestbed.ServerV4} && tcp.dstport=={NamespaceTestbed.HttpPort} && tcp.flags.syn==1 && tcp.flags.ack==0";
        string Curl(string url) => "curl -sS --max-time 3 " + url;
        // Positive control: before any engine or gate, the app's SYNs are seen on the physical link.
        var control = GateRuns.CaptureWhile(_testbed, "daemon-control", syn,
            () => _testbed.RunInClient(TimeSpan.FromSeconds(20), "sh", "-c", Curl(EngineConfigs.ServerUrl())));
        Assert.True(control.Count > 0, "positive control: no SYN seen on eth0 without the gate, so the oracle proves nothing");

        var daemon = DaemonUnderTest.Start(_testbed);
        string path = daemon.WriteConfig(config);
        Assert.Equal(0, daemon.Core("up", $$"""{"config_path": "{{path}}"}""").GetProperty("code").GetInt32());
        Assert.True(_testbed.RunInClient(TimeSpan.FromSeconds(20), "curl", "-sS", "--max-time", "10", EngineConfigs.ServerUrl()).Ok);

        daemon.Process.Signal(Exec.SigKill);
        Assert.True(daemon.Process.WaitForExit(TimeSpan.FromSeconds(10)));
        // Dead daemon, dead engine: the gate (nftables, not a process) still drops apps' traffic.
        ExecResult whileDead = default!;
        var held = GateRuns.CaptureWhile(_testbed, "daemon-dead", syn,
            () => whileDead = _testbed.RunInClient(TimeSpan.FromSeconds(20), "sh", "-c", Curl(EngineConfigs.ServerUrl())));
        Assert.False(whileDead.Ok, "the app reached the server while the daemon was dead: " + whileDead);
        Assert.True(held.Count == 0, $"{held.Count} SYN(s) left on eth0 while the daemon was dead:\n{held.Packets}");

        var restarted = daemon.Launch();
        Assert.True(daemon.WaitForState("connected", TimeSpan.FromSeconds(30)), restarted.Log);
        var after = _testbed.RunInClient(TimeSpan.FromSeconds(20), "curl", "-sS", "--max-time", "10", EngineConfigs.ServerUrl());
        Assert.True(after.Ok, after + "\n" + restarted.Log);
        Assert.Equal(NamespaceTestbed.ClientV4, after.Stdout.Trim());
        Assert.True(restarted.WaitFor("bringing up what was up before the daemon stopped", TimeSpan.FromSeconds(5)), restarted.Log);
        Assert.Equal(path, daemon.Core("status").GetProperty("data").GetProperty("config_path").GetString());

        // `down` is remembered too: the next start stays down.
        daemon.Core("down");
        restarted.Signal(Exec.SigKill);
        restarted.WaitForExit(TimeSpan.FromSeconds(10));
        daemon.Launch();
        Assert.Equal("disconnected", daemon.State());
    }

    public void Dispose() => _testbed.Dispose();
}
