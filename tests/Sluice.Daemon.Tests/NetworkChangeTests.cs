using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Control;
using Sluice.Daemon;

namespace Sluice.Daemon.Tests;

/// <summary>
/// A network change and a `down` interleaved on purpose: the change has checked that an engine runs and is about
/// to say "reconnecting" when the down comes. The clock is the seam: its next reading (the change's timestamp,
/// taken between the check and the state change) waits until the test lets it go.
/// </summary>
public sealed class NetworkChangeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-network-").FullName;
    private readonly GatedClock _clock = new();
    private readonly EngineSupervisor _supervisor;

    public NetworkChangeTests()
    {
        _supervisor = new EngineSupervisor(ReloadTests.WithoutTun(), new StateStore(_dir), NullLoggerFactory.Instance, _clock, null);
    }

    [Fact]
    public async Task Down_DuringANetworkChange_LeavesDisconnected_NotReconnectingWithNoEngine()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        string config = $$"""{"inbounds": [{"type": "mixed", "listen": "127.0.0.1", "listen_port": {{port}}}], "outbounds": [{"type": "direct", "tag": "direct"}]}""";
        Assert.Equal(ApiCodes.Ok, (await _supervisor.UpAsync(config, null, null)).Code);
        Assert.Equal(EngineStates.Connected, _supervisor.State);

        // Only the change's own flow is held (the supervisor's sampler timer reads the clock too).
        _clock.HoldNextReadingInThisFlow(true);
        var change = Task.Run(_supervisor.HandleNetworkChangeAsync);
        _clock.HoldNextReadingInThisFlow(false);
        Assert.True(_clock.Held.Wait(TimeSpan.FromSeconds(10)), "the network change never read the clock");
        var down = Task.Run(_supervisor.DownAsync);
        await Task.WhenAny(down, Task.Delay(TimeSpan.FromSeconds(1)));
        _clock.Release.Set();
        await change.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(ApiCodes.Ok, (await down.WaitAsync(TimeSpan.FromSeconds(10))).Code);

        Assert.Null(_supervisor.Engine);
        Assert.Equal(EngineStates.Disconnected, _supervisor.State);
    }

    public void Dispose()
    {
        _clock.Release.Set();
        _supervisor.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>The system clock, except that the next reading in a flow marked by <see cref="HoldNextReadingInThisFlow"/> waits for <see cref="Release"/>.</summary>
    private sealed class GatedClock : TimeProvider
    {
        private readonly AsyncLocal<bool> _holdHere = new();
        private int _armed;

        public ManualResetEventSlim Held { get; } = new();

        public ManualResetEventSlim Release { get; } = new();

        /// <summary>Tasks started from here on (until called with false) hold the next reading.</summary>
        public void HoldNextReadingInThisFlow(bool hold)
        {
            _holdHere.Value = hold;
            if (hold) Volatile.Write(ref _armed, 1);
        }

        public override DateTimeOffset GetUtcNow()
        {
            if (_holdHere.Value && Interlocked.Exchange(ref _armed, 0) == 1)
            {
                Held.Set();
                Release.Wait();
            }
            return base.GetUtcNow();
        }
    }
}
