using Sluice.Core.Flows;
using Sluice.Core.Monitoring;
using Sluice.Packets;
using Sluice.Tests;

namespace Sluice.Core.Tests.Monitoring;

/// <summary>
/// Per-app bytes count each byte once, and the meter forgets a flow once it ended, including flows that end while a
/// sample looks up their owners (outside its lock: under a flood of short connections that takes seconds).
/// </summary>
public sealed class AppTrafficMeterTests
{
    private readonly FakeClock _clock = new();
    private readonly ConnectionRegistry _connections;

    public AppTrafficMeterTests() => _connections = new ConnectionRegistry(_clock);

    private TrackedConnection Open(int port)
    {
        var key = new FlowKey(IpProtocol.Tcp, NetAddress.Parse("172.19.0.1"), (ushort)port, NetAddress.Parse("10.66.0.1"), 5304);
        return _connections.Add(key, "tun-in", null, null, "wg", "rule 1", null);
    }

    [Fact]
    public void FlowsEndingWhileASampleLooksUpTheirOwners_AreCountedOnce_AndForgotten()
    {
        var meter = new AppTrafficMeter(_connections, _clock.GetUtcNow());
        var flows = new List<TrackedConnection>();
        // Each flow ends while the sampler asks who owns it, as short connections do under load.
        _connections.ProcessResolver = key =>
        {
            _connections.Remove(flows[key.SourcePort - 20000]);
            return new ProcessInfo(0, 42, "curl", "/usr/bin/curl");
        };
        flows.AddRange(Enumerable.Range(0, 100).Select(i => Open(20000 + i)));
        foreach (var flow in flows) flow.AddDownload(1000);

        meter.Sample(_clock.GetUtcNow());
        _clock.Advance(1);
        meter.Sample(_clock.GetUtcNow());

        var (apps, total) = meter.Read();
        Assert.Equal(100 * 1000, apps.Sum(a => a.Download));
        Assert.Equal(100 * 1000, total.Download);
        Assert.Equal(0, total.Connections);
        Assert.Equal(0, meter.RememberedFlows);
    }

    [Fact]
    public void ALiveFlow_IsCountedOnceAcrossSamples_AndItsLastBytesWhenItEnds()
    {
        var meter = new AppTrafficMeter(_connections, _clock.GetUtcNow());
        var flow = Open(20000);
        flow.AddUpload(300);
        meter.Sample(_clock.GetUtcNow());
        flow.AddUpload(200);
        _clock.Advance(1);
        meter.Sample(_clock.GetUtcNow());
        Assert.Equal(1, meter.RememberedFlows);

        flow.AddUpload(50);
        _connections.Remove(flow);
        _clock.Advance(1);
        meter.Sample(_clock.GetUtcNow());

        Assert.Equal(550, meter.Read().Total.Upload);
        Assert.Equal(0, meter.RememberedFlows);
    }
}
