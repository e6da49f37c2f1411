using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Core.Configuration;
using Sluice.Core.Tests.Stack;

namespace Sluice.Core.Tests;

/// <summary>
/// The engine starts as an ordered list of stages and stops in reverse, over an in-memory TUN (no root): the
/// relay listens on loopback, which is the TUN's address here.
/// </summary>
public sealed class EngineStagesTests
{
    private static readonly SluiceConfig Config = ConfigLoader.Load("""
        {
          "inbounds": [{"type": "tun", "address": ["127.0.0.1/30"], "auto_route": false}],
          "outbounds": [{"type": "direct", "tag": "direct"}]
        }
        """);

    [Fact]
    public void Stop_RunsEveryStageInReverseOfStart_SoThePacketThreadEndsBeforeTheSessionsItFeeds()
    {
        var tun = new ChannelTun();
        using var engine = new SluiceEngine(Config, Platform(_ => tun), NullLoggerFactory.Instance);
        var stopped = new List<string>();
        engine.Stages.Stopping = stopped.Add;
        engine.Start();
        var started = engine.Stages.Started.ToList();

        engine.Stop();

        Assert.Equal(Enumerable.Reverse(started), stopped);
        Assert.True(stopped.IndexOf("packet thread") < stopped.IndexOf("udp sessions"), string.Join(", ", stopped));
        Assert.True(stopped.IndexOf("packet thread") < stopped.IndexOf("tcp relays"), string.Join(", ", stopped));
        Assert.Equal("auto_route", stopped[0]);
        Assert.Empty(engine.Stages.Started);
    }

    [Fact]
    public void AStageThatFailsToStart_StopsTheStartedOnesInReverse_AndTheErrorNamesIt()
    {
        using var engine = new SluiceEngine(Config, Platform(_ => throw new IOException("/dev/net/tun: no such device")), NullLoggerFactory.Instance);
        var stopped = new List<string>();
        engine.Stages.Stopping = stopped.Add;

        var error = Assert.Throws<EngineStartException>(engine.Start);

        Assert.Equal("tun", error.Stage);
        Assert.Equal("/dev/net/tun: no such device (engine start, stage \"tun\")", error.Message);
        Assert.Equal(new[] { "stale routes", "dns inbounds", "mixed inbounds", "rules", "subscriptions", "outbounds", "dns server", "file changes", "rule sets", "cache file", "memory trim", "dns-direct" }, stopped);
        Assert.Empty(engine.Stages.Started);
    }

    private static EnginePlatform Platform(Func<TunInboundOptions, Tun.ITunDevice> openTun) =>
        new(openTun, null, _ => new PlainSockets(), null);
}
