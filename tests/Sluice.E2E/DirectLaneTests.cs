using System.Security.Cryptography;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>Traffic of the client namespace enters the TUN and leaves by the direct lane.</summary>
public sealed class DirectLaneTests : IDisposable
{
    private static readonly TimeSpan Curl = TimeSpan.FromSeconds(60);
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Curl_ReachesServer_ThroughDirectLane(bool v6)
    {
        var engine = _testbed.StartEngine(EngineConfigs.Tun()).WaitStarted();

        var result = _testbed.RunInClient(Curl, "curl", "-sS", "--max-time", "20", EngineConfigs.ServerUrl(v6: v6));

        Assert.True(result.Ok, result.ToString() + "\n" + engine.Log);
        // Direct lane: the server sees the client's own physical address.
        Assert.Equal(v6 ? NamespaceTestbed.ClientV6 : NamespaceTestbed.ClientV4, result.Stdout.Trim());
        // And the flow really went through the engine (it entered the TUN).
        Assert.True(engine.WaitFor("=> direct", TimeSpan.FromSeconds(5)), engine.Log);
    }

    [Fact]
    public void Download_Of100MiB_ArrivesIntact()
    {
        string blob = Path.Combine(_testbed.WwwDir, "blob.bin");
        var data = new byte[100 * 1024 * 1024];
        new Random(2026).NextBytes(data);
        File.WriteAllBytes(blob, data);
        string expected = Convert.ToHexStringLower(SHA256.HashData(data));
        var engine = _testbed.StartEngine(EngineConfigs.Tun()).WaitStarted();
        var before = LaneCounters.Of(_testbed.Client);

        var result = _testbed.RunInClient(Curl, "sh", "-c", $"curl -sS --max-time 50 {EngineConfigs.ServerUrl("blob.bin")} | sha256sum");

        Assert.True(result.Ok, result.ToString() + "\n" + engine.Log);
        Assert.Equal(expected, result.Stdout.Split(' ')[0]);
        // The bytes crossed the TUN (not a path around it) and the flow took the direct lane.
        var moved = LaneCounters.Of(_testbed.Client) - before;
        Assert.True(moved.Bytes >= data.Length, $"only {moved.Bytes} bytes crossed sluice0 for a {data.Length}-byte download");
        Assert.True(engine.WaitFor("=> direct", TimeSpan.FromSeconds(5)), engine.Log);
        Assert.Contains(engine.Lines, l => l.Contains($"{NamespaceTestbed.ServerV4}:{NamespaceTestbed.HttpPort} ", StringComparison.Ordinal) && l.Contains("=> direct", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void UdpEcho_RoundTrips_ThroughUdpSession(bool v6)
    {
        var engine = _testbed.StartEngine(EngineConfigs.Tun()).WaitStarted();
        string host = v6 ? NamespaceTestbed.ServerV6 : NamespaceTestbed.ServerV4;

        var result = _testbed.RunInClient(Curl, "python3", _testbed.PeerScript, "udp", host, NamespaceTestbed.UdpEchoPort.ToString(), "ping-through-sluice");

        Assert.True(result.Ok, result.ToString() + "\n" + engine.Log);
        Assert.Equal("ping-through-sluice", result.Stdout.Trim());
        Assert.True(engine.WaitFor("udp ", TimeSpan.FromSeconds(5)), engine.Log);
    }

    [Fact]
    public void ThousandConcurrentConnections_AllComplete()
    {
        var engine = _testbed.StartEngine(EngineConfigs.Tun()).WaitStarted();

        var result = _testbed.RunInClient(TimeSpan.FromSeconds(120), "python3", _testbed.PeerScript, "burst",
            NamespaceTestbed.ServerV4, NamespaceTestbed.LineEchoPort.ToString(), "1000");

        Assert.True(result.Ok, result.ToString() + "\n" + string.Join('\n', engine.Lines.TakeLast(30)));
        Assert.StartsWith("ok 1000 of 1000", result.Stdout);
        // Each of the 1,000 connections was admitted by the engine onto the direct lane.
        string echo = $"{NamespaceTestbed.ServerV4}:{NamespaceTestbed.LineEchoPort} ";
        // The engine's log reaches us through a pipe: wait for it to catch up (progress, at most 15 s).
        int Routed() => engine.Lines.Count(l => l.Contains(echo, StringComparison.Ordinal) && l.Contains("=> direct", StringComparison.Ordinal));
        int routed = Routed();
        for (var waited = System.Diagnostics.Stopwatch.StartNew(); routed < 1000 && waited.Elapsed < TimeSpan.FromSeconds(15); routed = Routed()) Thread.Sleep(100);
        Assert.True(routed >= 1000, $"{routed} of 1,000 connections were logged as => direct\n" + string.Join('\n', engine.Lines.TakeLast(10)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Ping_IsAnswered_OnDirectLane(bool v6)
    {
        var engine = _testbed.StartEngine(EngineConfigs.Tun()).WaitStarted();
        var before = LaneCounters.Of(_testbed.Client);

        var result = _testbed.RunInClient(Curl, "ping", v6 ? "-6" : "-4", "-c", "3", "-i", "0.2", "-W", "2",
            v6 ? NamespaceTestbed.ServerV6 : NamespaceTestbed.ServerV4);

        Assert.True(result.Ok, result.ToString() + "\n" + engine.Log);
        Assert.Contains("3 received", result.Stdout);
        // The echo requests entered the TUN (the engine relayed them), not eth0 directly.
        var moved = LaneCounters.Of(_testbed.Client) - before;
        Assert.True(moved.Packets >= 3, $"only {moved.Packets} packets crossed sluice0 for 3 echo requests");
    }

    public void Dispose() => _testbed.Dispose();
}
