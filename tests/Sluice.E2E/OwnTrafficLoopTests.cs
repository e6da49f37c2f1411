using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// The engine's own (marked) traffic must never come back in through its TUN. In the soak (bench/README, soak5) a link
/// flap left the main table's default route through the TUN; the engine's WireGuard datagrams took it, each was routed
/// `direct` by the final rule, whose marked socket sent it into the TUN again from a new port: 1,217 UDP sessions in
/// 2 s, fds 33 → 1,255. auto_route's nftables table drops marked packets whose route leads into the TUN, so the
/// sends fail at once (EPERM) and nothing loops; when the route is fixed the tunnel carries traffic again.
/// </summary>
public sealed class OwnTrafficLoopTests : IDisposable
{
    private static readonly TimeSpan Curl = TimeSpan.FromSeconds(60);
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();
    private readonly (string Private, string Public) _keys = WireGuardGoPeer.GenerateKeys();

    private static int Fds(EngineProcess engine) => Directory.GetFiles($"/proc/{engine.Process.Id}/fd").Length;

    [Fact]
    public void TheEnginesWireGuardDatagrams_RoutedIntoItsOwnTun_DoNotLoop_AndTheTunnelRecoversWhenTheRouteIsFixed()
    {
        var peer = WireGuardGoPeer.Start(_testbed, _keys.Public);
        string rule = $$"""{"ip_cidr": ["{{NamespaceTestbed.ServerV4}}/32"], "outbound": "wg"}""";
        var engine = _testbed.StartEngine(peer.SluiceConfig(_keys.Private, rule)).WaitStarted();
        var before = _testbed.RunInClient(Curl, "curl", "-sS", "--max-time", "20", EngineConfigs.ServerUrl());
        Assert.True(before.Ok, before + "\n" + engine.Log);
        Assert.Equal(WireGuardGoPeer.SluiceTunnelV4, before.Stdout.Trim());
        int fdsBefore = Fds(engine);

        // The misconfiguration: the main table (where marked traffic is routed) sends the peer's address into the TUN.
        var add = _testbed.RunInClient(TimeSpan.FromSeconds(10), "ip", "route", "add", NamespaceTestbed.RouterV4 + "/32", "dev", "sluice0");
        Assert.True(add.Ok, add.ToString());
        // Tunnel traffic meanwhile: every packet makes the lane send a datagram to the peer (and a handshake retry).
        var pings = _testbed.StartIn(_testbed.Client, "ping", "-c", "30", "-i", "0.1", "-W", "1", NamespaceTestbed.ServerV4);
        int fdsPeak = fdsBefore;
        while (!pings.HasExited)
        {
            fdsPeak = Math.Max(fdsPeak, Fds(engine));
            Thread.Sleep(100);
        }
        for (int i = 0; i < 10; i++)
        {
            fdsPeak = Math.Max(fdsPeak, Fds(engine));
            Thread.Sleep(100);
        }
        // A loop opened hundreds of sessions a second (each a socket); without one the engine opens none for this.
        Assert.True(fdsPeak < fdsBefore + 32, $"fds {fdsBefore} -> {fdsPeak} while the route to the peer led into the TUN\n{engine.Log}");
        Assert.DoesNotContain(engine.Lines, l => l.Contains($"{NamespaceTestbed.RouterV4}:{WireGuardGoPeer.ListenPort} ", StringComparison.Ordinal)
            && l.Contains("=> direct", StringComparison.Ordinal));

        var del = _testbed.RunInClient(TimeSpan.FromSeconds(10), "ip", "route", "del", NamespaceTestbed.RouterV4 + "/32", "dev", "sluice0");
        Assert.True(del.Ok, del.ToString());
        ExecResult after = before;
        for (int attempt = 0; attempt < 6; attempt++)
        {
            after = _testbed.RunInClient(Curl, "curl", "-sS", "--max-time", "10", EngineConfigs.ServerUrl());
            if (after.Ok) break;
        }
        Assert.True(after.Ok, "the tunnel did not carry traffic again after the route was fixed: " + after + "\n" + engine.Log);
        Assert.Equal(WireGuardGoPeer.SluiceTunnelV4, after.Stdout.Trim());
    }

    public void Dispose() => _testbed.Dispose();
}
