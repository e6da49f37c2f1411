using Microsoft.Extensions.Logging;
using Sluice.Control;
using Sluice.Core;
using Sluice.Core.Monitoring;
using Sluice.Core.Outbounds.WireGuard;

namespace Sluice.Daemon;

/// <summary>
/// Network changes: the monitor's bursts are debounced (1 s of quiet), then
/// 1. the physical interface is re-detected (direct sockets carry the fwmark and follow the main table, so
///    new flows leave by the new route without rebinding anything);
/// 2. state "reconnecting"; every WireGuard peer handshakes again from the new address; groups re-test;
/// 3. state "connected" once every peer has a handshake newer than the change (asked again every 5 s).
/// </summary>
internal sealed partial class EngineSupervisor
{
    private static readonly TimeSpan Debounce = TimeSpan.FromSeconds(1);
    private Timer? _networkDebounce;
    private int _networkGeneration;
    private INetworkMonitor? _monitor;

    public string? PhysicalInterface { get; private set; }

    public int NetworkChanges { get; private set; }

    public void AttachMonitor(INetworkMonitor monitor)
    {
        _monitor = monitor;
        PhysicalInterface = monitor.PhysicalInterface();
        monitor.Changed += reason =>
        {
            LogNetworkEvent(_logger, reason);
            var timer = _networkDebounce ??= new Timer(_ => _ = HandleNetworkChangeAsync(), null, Timeout.Infinite, Timeout.Infinite);
            timer.Change(Debounce, Timeout.InfiniteTimeSpan);
        };
    }

    /// <summary>Runs the network-change steps now (the monitor's debounced event, or a test).</summary>
    public async Task HandleNetworkChangeAsync()
    {
        int generation = Interlocked.Increment(ref _networkGeneration);
        NetworkChanges++;
        string? before = PhysicalInterface;
        PhysicalInterface = _monitor?.PhysicalInterface();
        LogNetworkChanged(_logger, before ?? "none", PhysicalInterface ?? "none");
        // Under the actions lock: a down or up between the check and the state change would leave
        // "reconnecting" standing with no engine.
        SluiceEngine? engine;
        DateTimeOffset changedAt;
        await _actions.WaitAsync().ConfigureAwait(false);
        try
        {
            engine = Engine;
            if (engine is null || State is not (EngineStates.Connected or EngineStates.Reconnecting)) return;
            changedAt = _time.GetUtcNow();
            SetState(EngineStates.Reconnecting, null, $"network changed (default route via {PhysicalInterface ?? "none"})");
        }
        finally
        {
            _actions.Release();
        }
        var peers = engine.Outbounds.Values.OfType<WireGuardEndpoint>().SelectMany(e => e.Peers).ToArray();
        try
        {
            engine.NetworkChanged();
            foreach (var outbound in engine.Outbounds.Values) _ = EngineViews.RetestAsync(outbound);
        }
        catch (Exception e)
        {
            LogStopFailed(_logger, $"network change: {e.Message}");
        }

        var asked = _time.GetUtcNow();
        while (peers.Any(p => p.LastHandshake is not { } h || h < changedAt))
        {
            await Task.Delay(TimeSpan.FromMilliseconds(200), _time).ConfigureAwait(false);
            // A newer change, a down or a new config took over.
            if (generation != Volatile.Read(ref _networkGeneration) || !ReferenceEquals(engine, Engine)) return;
            if (_time.GetUtcNow() - asked > TimeSpan.FromSeconds(5))
            {
                engine.NetworkChanged();
                asked = _time.GetUtcNow();
            }
        }
        await _actions.WaitAsync().ConfigureAwait(false);
        try
        {
            if (generation == Volatile.Read(ref _networkGeneration) && ReferenceEquals(engine, Engine) && State == EngineStates.Reconnecting)
                SetState(EngineStates.Connected, null, peers.Length > 0 ? "every WireGuard peer handshook from the new network" : "network changed; nothing to re-establish");
        }
        finally
        {
            _actions.Release();
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "netlink: {Reason}")]
    private static partial void LogNetworkEvent(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "network changed: default route via {Before} -> {After}")]
    private static partial void LogNetworkChanged(ILogger logger, string before, string after);
}
