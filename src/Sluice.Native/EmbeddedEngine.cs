using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Sluice.Control;
using Sluice.Core;
using Sluice.Core.Configuration;
using Sluice.Core.Flows;
using Sluice.Platform.Linux;

namespace Sluice.Native;

/// <summary>
/// One engine a host started on its TUN fd: disconnected → connecting → connected (→ connecting → connected
/// on a reload that has to restart) → disconnected, or error when a start fails. Actions are serialized by one lock; state
/// changes reach the host's <c>on_state</c> after that lock is released, in order, so a callback may call
/// back into the library (even stop).
/// </summary>
internal sealed partial class EmbeddedEngine
{
    private readonly object _lock = new();
    private readonly object _delivery = new();
    private readonly ConcurrentQueue<StateEvent> _pending = new();
    private readonly int _tunFd;
    private readonly HostCallbacks _host;
    private SluiceEngine? _engine;
    private ILoggerFactory? _logs;
    private string? _configJson;

    public EmbeddedEngine(int tunFd, HostCallbacks host)
    {
        _tunFd = tunFd;
        _host = host;
        Since = DateTimeOffset.UtcNow;
    }

    public string State { get; private set; } = EngineStates.Disconnected;

    public ErrorInfo? Error { get; private set; }

    public DateTimeOffset Since { get; private set; }

    public DateTimeOffset? ConnectedAt { get; private set; }

    /// <summary>The running engine, or null.</summary>
    public SluiceEngine? Engine => Volatile.Read(ref _engine);

    /// <summary>Starts on <paramref name="config"/>; throws (after reporting state "error") when it cannot.</summary>
    /// <param name="json">The config's text, kept to compare the next reload's against.</param>
    /// <param name="parsing">How long reading the config took, for the start-up breakdown in the log.</param>
    public void Start(SluiceConfig config, string json, string reason, TimeSpan parsing = default)
    {
        try
        {
            lock (_lock) StartLocked(config, json, reason, parsing);
        }
        finally
        {
            Deliver();
        }
    }

    /// <summary>
    /// Reload as the daemon does it (<see cref="ConfigReloadPlan"/>):
    /// 1. when only rules and outbounds changed, the engine publishes the new routing model in place: the data
    ///    path stays, live flows on unchanged outbounds are kept, those on removed or changed ones are closed (RST);
    ///    a config that does not compile throws and changes nothing;
    /// 2. any other change (inbounds, DNS, log, …) stops the engine and starts it on the new config (connecting →
    ///    connected), and the answer says why; every live flow is cut.
    /// </summary>
    public ReloadData Reload(SluiceConfig config, string json)
    {
        try
        {
            lock (_lock)
            {
                if (_engine is not { } engine || _configJson is null)
                    throw new InvalidOperationException("the engine is not running (stopped, or its start failed); call sluice_start");
                var plan = ConfigReloadPlan.Compare(_configJson, json);
                if (plan.RestartReason is { } reason)
                {
                    int live = engine.Connections.Count;
                    if (_logs is { } logs) LogReloadRestarts(logs.CreateLogger("libsluice"), reason);
                    StopLocked(EngineStates.Connecting, "reload");
                    StartLocked(config, json, "reload", TimeSpan.Zero);
                    return new ReloadData(0, live, [], reason, State);
                }
                var result = engine.Reload(config, plan.UnchangedOutbounds);
                _configJson = json;
                return new ReloadData(result.Kept, result.Closed, result.ReplacedOutbounds, null, State);
            }
        }
        finally
        {
            Deliver();
        }
    }

    public void Stop()
    {
        try
        {
            lock (_lock) StopLocked(EngineStates.Disconnected, "stop");
        }
        finally
        {
            Deliver();
        }
    }

    /// <summary>WireGuard peers handshake again (the host's network changed).</summary>
    public bool NetworkChanged(string? ifname, int ifindex)
    {
        lock (_lock)
        {
            if (_engine is not { } engine) return false;
            if (_logs is { } logs) LogNetworkChanged(logs.CreateLogger("libsluice"), ifname ?? "an unnamed interface", ifindex);
            engine.NetworkChanged();
            return true;
        }
    }

    private void StartLocked(SluiceConfig config, string json, string reason, TimeSpan parsing)
    {
        long begin = System.Diagnostics.Stopwatch.GetTimestamp();
        if (State != EngineStates.Connecting) SetState(EngineStates.Connecting, null, reason);
        // The factory without LoggerFactory.Create's service container: building that took ~150 ms of a
        // first sluice_start (measured, bench/README.md), longer than the whole engine start.
        var logs = new LoggerFactory([new HostLogProvider(_host)], new LoggerFilterOptions { MinLevel = HostLogProvider.Minimum(config.Log) });
        var logger = logs.CreateLogger("libsluice");
        _host.Trouble = message => LogCallbackFailed(logger, message);
        if (config.TunInbounds.FirstOrDefault() is { AutoRoute: true })
            LogNoAutoRoute(logger);
        var platform = Platform(config);
        var engine = new SluiceEngine(config, platform, logs);
        if (platform.Processes is { } processes) engine.Connections.ProcessResolver = processes.Find;
        engine.Connections.ChainResolver = lane => Sluice.Core.Monitoring.EngineViews.Chain(engine.Outbounds, lane);
        var composed = System.Diagnostics.Stopwatch.GetElapsedTime(begin);
        try
        {
            engine.Start();
        }
        catch (Exception e)
        {
            engine.Dispose();
            logs.Dispose();
            string message = $"the engine did not start: {e.Message}";
            SetState(EngineStates.Error, new ErrorInfo(ApiCodes.EngineFailed, message), reason + " failed");
            throw new InvalidOperationException(message, e);
        }
        var started = System.Diagnostics.Stopwatch.GetElapsedTime(begin);
        LogStartTimes(logger, reason, Math.Round((parsing + started).TotalMilliseconds, 1), Math.Round(parsing.TotalMilliseconds, 1),
            Math.Round(composed.TotalMilliseconds, 1), Math.Round((started - composed).TotalMilliseconds, 1));
        _logs = logs;
        _configJson = json;
        Volatile.Write(ref _engine, engine);
        ConnectedAt = DateTimeOffset.UtcNow;
        SetState(EngineStates.Connected, null, reason);
    }

    private void StopLocked(string next, string reason)
    {
        var engine = _engine;
        Volatile.Write(ref _engine, null);
        ConnectedAt = null;
        if (engine is not null)
        {
            try
            {
                engine.Stop();
            }
            catch (Exception e)
            {
                if (_logs is { } logs) LogStopFailed(logs.CreateLogger("libsluice"), e.Message);
            }
            engine.Dispose();
        }
        _logs?.Dispose();
        _logs = null;
        _configJson = null;
        if (State != next) SetState(next, null, reason);
    }

    /// <summary>
    /// The host owns the TUN, its addresses and routes: no route table, no interface setup. Outside sockets
    /// go through the host's protect when it has one, else carry the engine's SO_MARK.
    /// </summary>
    private EnginePlatform Platform(SluiceConfig config)
    {
        IProcessLookup processes = _host.CanFindOwner ? new HostProcessLookup(_host) : new LinuxProcessLookup();
        return new EnginePlatform(
            OpenTun: options => LinuxTunDevice.FromHostFd(_tunFd, options.Mtu),
            Routes: null,
            Sockets: mark => _host.CanProtect ? new HostProtectedSockets(new LinuxSocketFactory(0), _host) : new LinuxSocketFactory(mark),
            Processes: processes)
        {
            PacketCiphers = Sluice.Platform.Linux.Crypto.OpenSslPacketCipher.Factory,
            X25519 = Sluice.Platform.Linux.Crypto.OpenSslX25519.OrManaged,
            Time = TimeProvider.System,
            TrimNativeMemory = Sluice.Platform.Linux.Native.NativeHeap.Trim, // the host's executable is not ours to unmap
        };
    }

    private void SetState(string state, ErrorInfo? error, string reason)
    {
        State = state;
        Error = error;
        Since = DateTimeOffset.UtcNow;
        _pending.Enqueue(new StateEvent(state, Since, error, reason));
    }

    /// <summary>Hands queued state changes to on_state, outside the action lock, one thread at a time.</summary>
    private void Deliver()
    {
        lock (_delivery)
        {
            while (_pending.TryDequeue(out var change)) _host.State(ApiJson.Line(change));
        }
    }

    /// <summary>The host's find_owner as the engine's process lookup.</summary>
    private sealed class HostProcessLookup(HostCallbacks host) : IProcessLookup
    {
        public ProcessInfo? Find(Sluice.Packets.FlowKey flow) => host.FindOwner(flow);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "network changed: the host reports {Interface} (index {Index})")]
    private static partial void LogNetworkChanged(ILogger logger, string @interface, int index);

    [LoggerMessage(Level = LogLevel.Warning, Message = "host callback failed: {Message}")]
    private static partial void LogCallbackFailed(ILogger logger, string message);

    [LoggerMessage(Level = LogLevel.Information, Message = "auto_route is the host's business here: the engine adds no routes, rules or firewall tables")]
    private static partial void LogNoAutoRoute(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Reason} took {Total} ms: config {Config} ms, logging and platform {Composed} ms, engine start {Engine} ms")]
    private static partial void LogStartTimes(ILogger logger, string reason, double total, double config, double composed, double engine);

    [LoggerMessage(Level = LogLevel.Information, Message = "reload restarts the engine (live flows are cut): {Reason}")]
    private static partial void LogReloadRestarts(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "engine stop: {Message}")]
    private static partial void LogStopFailed(ILogger logger, string message);
}
