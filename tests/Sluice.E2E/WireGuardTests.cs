using System.Security.Cryptography;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>Sluice's WireGuard lane against Debian's wireguard-go in the router namespace.</summary>
public sealed class WireGuardTests : IDisposable
{
    private static readonly TimeSpan Curl = TimeSpan.FromSeconds(60);
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();
    private readonly (string Private, string Public) _sluiceKeys = WireGuardGoPeer.GenerateKeys();

    private static string ServerRule(string outbound = "wg") =>
        $$"""{"ip_cidr": ["{{NamespaceTestbed.ServerV4}}/32", "{{NamespaceTestbed.ServerV6}}/128"], "outbound": "{{outbound}}"}""";

    private EngineProcess StartSluice(WireGuardGoPeer peer, string rules, bool initiates = true, int? listenPort = null) =>
        _testbed.StartEngine(peer.SluiceConfig(_sluiceKeys.Private, rules, sluiceInitiates: initiates, listenPort: listenPort)).WaitStarted();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Tcp_ThroughTunnel_ServerSeesTunnelAddress(bool v6)
    {
        var peer = WireGuardGoPeer.Start(_testbed, _sluiceKeys.Public);
        var engine = StartSluice(peer, ServerRule());

        var result = _testbed.RunInClient(Curl, "curl", "-sS", "--max-time", "20", EngineConfigs.ServerUrl(v6: v6));

        Assert.True(result.Ok, result + "\n" + engine.Log);
        Assert.Equal(v6 ? WireGuardGoPeer.SluiceTunnelV6 : WireGuardGoPeer.SluiceTunnelV4, result.Stdout.Trim());
        Assert.True(engine.WaitFor("handshake with peer 0", TimeSpan.FromSeconds(5)), engine.Log);
        Assert.NotEqual("0", peer.Show("latest-handshakes").Split('\t').Last().Trim());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PingAndUdp_ThroughTunnel_AreAnswered(bool v6)
    {
        var peer = WireGuardGoPeer.Start(_testbed, _sluiceKeys.Public);
        var engine = StartSluice(peer, ServerRule());
        string server = v6 ? NamespaceTestbed.ServerV6 : NamespaceTestbed.ServerV4;

        var ping = _testbed.RunInClient(Curl, "ping", v6 ? "-6" : "-4", "-c", "3", "-i", "0.3", "-W", "3", server);
        var udp = _testbed.RunInClient(Curl, "python3", _testbed.PeerScript, "udp", server, NamespaceTestbed.UdpEchoPort.ToString(), "through-wireguard");

        Assert.True(ping.Ok, ping + "\n" + engine.Log);
        Assert.Contains("3 received", ping.Stdout);
        Assert.True(udp.Ok, udp + "\n" + engine.Log);
        Assert.Equal("through-wireguard", udp.Stdout.Trim());
        Assert.True(engine.WaitFor("=> wg", TimeSpan.FromSeconds(5)), engine.Log);
    }

    [Fact]
    public void TwoApps_SameDestination_OneThroughTunnel_OneDirect()
    {
        string tunneled = _testbed.CopyProgram("curl", "curl-wg");
        string direct = _testbed.CopyProgram("curl", "curl-direct");
        var peer = WireGuardGoPeer.Start(_testbed, _sluiceKeys.Public);
        var engine = StartSluice(peer, """{"process_name": "curl-wg", "outbound": "wg"}""");

        var viaTunnel = _testbed.RunInClient(Curl, tunneled, "-sS", "--max-time", "20", EngineConfigs.ServerUrl());
        var viaDirect = _testbed.RunInClient(Curl, direct, "-sS", "--max-time", "20", EngineConfigs.ServerUrl());

        Assert.True(viaTunnel.Ok, viaTunnel + "\n" + engine.Log);
        Assert.True(viaDirect.Ok, viaDirect + "\n" + engine.Log);
        // The same server, two sources: the tunnel address and the client's physical address.
        Assert.Equal(WireGuardGoPeer.SluiceTunnelV4, viaTunnel.Stdout.Trim());
        Assert.Equal(NamespaceTestbed.ClientV4, viaDirect.Stdout.Trim());
    }

    [Fact]
    public void CidrRule_SendsSubnetThroughTunnel_RestDirect()
    {
        var peer = WireGuardGoPeer.Start(_testbed, _sluiceKeys.Public);
        var engine = StartSluice(peer, """{"ip_cidr": "203.0.113.0/24", "outbound": "wg"}""");

        var inSubnet = _testbed.RunInClient(Curl, "curl", "-sS", "--max-time", "20", EngineConfigs.ServerUrl());
        var outside = _testbed.RunInClient(Curl, "curl", "-sS", "--max-time", "20", $"http://{NamespaceTestbed.RouterV4}:{NamespaceTestbed.HttpPort}/whoami");

        Assert.True(inSubnet.Ok, inSubnet + "\n" + engine.Log);
        Assert.Equal(WireGuardGoPeer.SluiceTunnelV4, inSubnet.Stdout.Trim());
        Assert.Equal(NamespaceTestbed.ClientV4, outside.Stdout.Trim());
    }

    [Fact]
    public void Download100MiB_ThroughTunnel_ArrivesIntact()
    {
        string expected = WriteBlob(100);
        var peer = WireGuardGoPeer.Start(_testbed, _sluiceKeys.Public);
        var engine = StartSluice(peer, ServerRule());
        long before = LaneCounters.WireGuardPeerBytes(peer);

        var result = _testbed.RunInClient(TimeSpan.FromSeconds(120), "sh", "-c", $"curl -sS --max-time 100 {EngineConfigs.ServerUrl("blob.bin")} | sha256sum");

        Assert.True(result.Ok, result + "\n" + engine.Log);
        Assert.Equal(expected, result.Stdout.Split(' ')[0]);
        AssertCarriedByThePeer(peer, before, 100);
    }

    /// <summary>The transfer went through wireguard-go (its peer counters moved by at least its size), not around the tunnel.</summary>
    private static void AssertCarriedByThePeer(WireGuardGoPeer peer, long before, int mebibytes)
    {
        long moved = LaneCounters.WireGuardPeerBytes(peer) - before;
        Assert.True(moved >= mebibytes * 1024L * 1024, $"wireguard-go's peer counters moved by {moved} bytes for a {mebibytes} MiB transfer");
    }

    [Fact]
    public void SluiceAsResponder_AcceptsHandshakeFromWireGuardGo()
    {
        var peer = WireGuardGoPeer.Start(_testbed, _sluiceKeys.Public, sluiceEndpoint: $"{NamespaceTestbed.ClientV4}:51821", keepalive: 1);
        var engine = StartSluice(peer, ServerRule(), initiates: false, listenPort: 51821);

        Assert.True(engine.WaitFor("handshake with peer 0", TimeSpan.FromSeconds(15)), engine.Log);
        var result = _testbed.RunInClient(Curl, "curl", "-sS", "--max-time", "20", EngineConfigs.ServerUrl());

        Assert.True(result.Ok, result + "\n" + engine.Log);
        Assert.Equal(WireGuardGoPeer.SluiceTunnelV4, result.Stdout.Trim());
    }

    [Fact]
    public void WrongKey_IsLoggedNamingThePeer_AndEngineKeepsRunning()
    {
        // wireguard-go knows Sluice's real key and initiates; Sluice expects a different peer key.
        var peer = WireGuardGoPeer.Start(_testbed, _sluiceKeys.Public, sluiceEndpoint: $"{NamespaceTestbed.ClientV4}:51821", keepalive: 1);
        var stranger = WireGuardGoPeer.GenerateKeys();
        string config = peer.SluiceConfig(_sluiceKeys.Private, ServerRule(), sluiceInitiates: false, listenPort: 51821)
            .Replace(peer.PublicKey, stranger.Public);
        var engine = _testbed.StartEngine(config).WaitStarted();

        // The line names the sender and the key it presented, which is not the configured peer's.
        Assert.True(engine.WaitFor($"handshake from {NamespaceTestbed.RouterV4}:{WireGuardGoPeer.ListenPort} failed: public key {peer.PublicKey} is not one of our peers",
            TimeSpan.FromSeconds(15)), engine.Log);
        Assert.DoesNotContain(engine.Lines, l => l.Contains("handshake with", StringComparison.Ordinal) && l.Contains("complete", StringComparison.Ordinal));
        Assert.False(engine.HasExited);
    }

    [Fact]
    public void GarbageFlood_AtListenPort_DoesNotDisturbTransfer()
    {
        string expected = WriteBlob(40);
        var peer = WireGuardGoPeer.Start(_testbed, _sluiceKeys.Public);
        var engine = StartSluice(peer, ServerRule(), listenPort: 51821);
        // Garbage of every WireGuard message type and length, from the router, for the whole transfer.
        string flood = """
            import os, random, socket, sys, time
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            end = time.time() + float(sys.argv[2])
            rnd = random.Random(7)
            n = 0
            while time.time() < end:
                kind = rnd.choice([1, 2, 3, 4, 9])
                body = bytes([kind, 0, 0, 0]) + os.urandom(rnd.choice([0, 12, 28, 60, 88, 144, 1000]))
                s.sendto(body, (sys.argv[1], 51821))
                n += 1
            print(n)
            """;
        File.WriteAllText(Path.Combine(_testbed.WorkDir, "flood.py"), flood);
        // Counts the flood where it arrives: the client's input, to the engine's port, from anyone but wireguard-go.
        var counted = _testbed.RunInClient(TimeSpan.FromSeconds(10), "nft",
            $"add table inet e2e_flood; add chain inet e2e_flood in {{ type filter hook input priority -300; }}; " +
            $"add rule inet e2e_flood in ip saddr {NamespaceTestbed.RouterV4} udp sport != {WireGuardGoPeer.ListenPort} udp dport 51821 counter");
        Assert.True(counted.Ok, counted.ToString());
        long before = LaneCounters.WireGuardPeerBytes(peer);
        var flooder = _testbed.StartIn(_testbed.Router, "python3", Path.Combine(_testbed.WorkDir, "flood.py"), NamespaceTestbed.ClientV4, "20");

        var result = _testbed.RunInClient(TimeSpan.FromSeconds(60), "sh", "-c", $"curl -sS --max-time 50 {EngineConfigs.ServerUrl("blob.bin")} | sha256sum");
        Exec.Kill(flooder);

        Assert.True(result.Ok, result + "\n" + engine.Log);
        Assert.Equal(expected, result.Stdout.Split(' ')[0]);
        Assert.False(engine.HasExited);
        AssertCarriedByThePeer(peer, before, 40);
        // The garbage really reached the engine's port, and the engine read and dropped it.
        var rule = _testbed.RunInClient(TimeSpan.FromSeconds(10), "nft", "list", "chain", "inet", "e2e_flood", "in").Stdout;
        var match = System.Text.RegularExpressions.Regex.Match(rule, @"counter packets (\d+)");
        Assert.True(match.Success && long.Parse(match.Groups[1].Value) >= 1000, $"the flood did not reach the engine's port: {rule}");
        Assert.True(engine.WaitFor($"datagram from {NamespaceTestbed.RouterV4}:", TimeSpan.FromSeconds(5)), "the engine never logged dropping a garbage datagram\n" + engine.Log);
    }

    [Fact]
    public async Task ForcedHandshakes_MidTransfer_LoseNothing()
    {
        string expected = WriteBlob(100);
        var peer = WireGuardGoPeer.Start(_testbed, _sluiceKeys.Public);
        var engine = StartSluice(peer, ServerRule());
        long before = LaneCounters.WireGuardPeerBytes(peer);
        // Throttled so the transfer spans several handshakes.
        var download = Task.Run(() => _testbed.RunInClient(TimeSpan.FromSeconds(90), "sh", "-c",
            $"curl -sS --max-time 80 --limit-rate 20M {EngineConfigs.ServerUrl("blob.bin")} | sha256sum"));
        for (int i = 0; i < 3; i++)
        {
            await Task.Delay(1000);
            engine.Signal(10); // SIGUSR1: new handshake, new keypair
        }

        var result = await download;

        Assert.True(result.Ok, result + "\n" + engine.Log);
        Assert.Equal(expected, result.Stdout.Split(' ')[0]);
        Assert.True(engine.Lines.Count(l => l.Contains("handshake with peer 0", StringComparison.Ordinal)) >= 3, engine.Log);
        AssertCarriedByThePeer(peer, before, 100);
    }

    [Fact]
    public async Task Roaming_ClientAddressChangesMidTransfer_TransferCompletes()
    {
        string expected = WriteBlob(60);
        var peer = WireGuardGoPeer.Start(_testbed, _sluiceKeys.Public);
        var engine = StartSluice(peer, ServerRule());
        var download = Task.Run(() => _testbed.RunInClient(TimeSpan.FromSeconds(90), "sh", "-c",
            $"curl -sS --max-time 80 --limit-rate 10M {EngineConfigs.ServerUrl("blob.bin")} | sha256sum"));
        await Task.Delay(1500);

        // The client moves to a new address on the same link; the old one disappears.
        const string NewAddress = "10.200.0.3";
        string Client(params string[] argv) => _testbed.RunInClient(TimeSpan.FromSeconds(10), argv).ToString();
        Client("sysctl", "-w", "net.ipv4.conf.eth0.promote_secondaries=1");
        Client("ip", "addr", "add", NewAddress + "/24", "dev", "eth0");
        Client("ip", "addr", "del", NamespaceTestbed.ClientV4 + "/24", "dev", "eth0");
        Client("ip", "route", "replace", "default", "via", NamespaceTestbed.RouterV4);

        var result = await download;

        Assert.True(result.Ok, result + "\n" + engine.Log);
        Assert.Equal(expected, result.Stdout.Split(' ')[0]);
        // wireguard-go followed the authenticated packets to the new address.
        Assert.Contains(NewAddress, peer.Show("endpoints"));
    }

    private string WriteBlob(int mebibytes)
    {
        var data = new byte[mebibytes * 1024 * 1024];
        new Random(mebibytes).NextBytes(data);
        File.WriteAllBytes(Path.Combine(_testbed.WwwDir, "blob.bin"), data);
        return Convert.ToHexStringLower(SHA256.HashData(data));
    }

    public void Dispose() => _testbed.Dispose();
}
