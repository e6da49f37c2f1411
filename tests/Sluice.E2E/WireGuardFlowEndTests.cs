using System.Text.Json;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// A TCP connection through the WireGuard lane that has ended leaves the engine's tables within seconds. Before, every
/// flow stayed for the 10 min idle timeout whatever its FINs said: the soak's 5,000 short connections a minute kept
/// ~50,000 flows (~50 MB of the daemon's heap, and as many rows in `/connections`).
/// </summary>
public sealed class WireGuardFlowEndTests : IDisposable
{
    private const int Connections = 20;
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();
    private readonly (string Private, string Public) _keys = WireGuardGoPeer.GenerateKeys();

    private static int ToServer(DaemonUnderTest daemon) =>
        daemon.Get("/connections").GetProperty("connections").EnumerateArray()
            .Count(c => c.GetProperty("metadata").GetProperty("destinationIP").GetString() == NamespaceTestbed.ServerV4);

    [Fact]
    public void ShortConnectionsThroughTheTunnel_LeaveTheConnectionList_SecondsAfterTheyClose()
    {
        var peer = WireGuardGoPeer.Start(_testbed, _keys.Public);
        string rule = $$"""{"ip_cidr": ["{{NamespaceTestbed.ServerV4}}/32"], "outbound": "wg"}""";
        var daemon = DaemonUnderTest.Start(_testbed);
        var up = daemon.Core("up", $$"""{"config": {{peer.SluiceConfig(_keys.Private, rule)}}}""");
        Assert.True(up.GetProperty("code").GetInt32() == 0, up.ToString());

        for (int i = 0; i < Connections; i++)
        {
            var result = _testbed.RunInClient(TimeSpan.FromSeconds(60), "curl", "-sS", "--max-time", "20", EngineConfigs.ServerUrl());
            Assert.True(result.Ok, result + "\n" + daemon.Process.Log);
            Assert.Equal(WireGuardGoPeer.SluiceTunnelV4, result.Stdout.Trim());
        }
        int listed = ToServer(daemon);
        Assert.True(listed >= Connections / 2, $"only {listed} of {Connections} closed connections listed right after they closed");

        // The grace after the last ACK (10 s) plus one sweep interval (5 s), and some slack for a loaded machine.
        int left = listed;
        for (int second = 0; second < 30 && left > 0; second++)
        {
            Thread.Sleep(1000);
            left = ToServer(daemon);
        }
        Assert.True(left == 0, $"{left} of {Connections} closed connections through the tunnel still listed 30 s after they closed\n"
            + daemon.Get("/connections"));

        // The lane still carries a new connection on the same route.
        var again = _testbed.RunInClient(TimeSpan.FromSeconds(60), "curl", "-sS", "--max-time", "20", EngineConfigs.ServerUrl());
        Assert.True(again.Ok, again + "\n" + daemon.Process.Log);
    }

    public void Dispose() => _testbed.Dispose();
}
