using System.Text.Json;
using Microsoft.Extensions.Logging;
using Sluice.Control;
using Sluice.Core;
using Sluice.Core.Configuration;
using Sluice.Core.Monitoring;
using Sluice.Core.Outbounds.WireGuard;

namespace Sluice.Daemon;

/// <summary>
/// Owns the engine and its state: disconnected → connecting → connected (→ reconnecting → connected on a
/// network change) → disconnected, or error with a reason. The daemon survives every engine error: a failed
/// start is state "error", never an exception out of the service. Actions are serialized by one lock.
/// </summary>
internal sealed partial class EngineSupervisor : IDisposable
{
    private readonly DaemonPlatform _platform;
    private readonly StateStore _store;
    private readonly ILoggerFactory _logs;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly string? _daemonConfigPath;
    private readonly SemaphoreSlim _actions = new(1, 1);
    private readonly object _stateLock = new();
    private IDisposable? _gate;
    private Timer? _sampler;
    private int _sampling;
    private int _disposed;

    public EngineSupervisor(DaemonPlatform platform, StateStore store, ILoggerFactory logs, TimeProvider time, string? daemonConfigPath)
    {
        _platform = platform;
        _store = store;
        _logs = logs;
        _logger = logs.CreateLogger("daemon");
        _time = time;
        _daemonConfigPath = daemonConfigPath;
        Since = time.GetUtcNow();
    }

    public string State { get; private set; } = EngineStates.Disconnected;

    public ErrorInfo? Error { get; private set; }

    public DateTimeOffset? ConnectedAt { get; private set; }

    public DateTimeOffset Since { get; private set; }

    public SluiceEngine? Engine { get; private set; }

    public SluiceConfig? Config { get; private set; }

    public string? ConfigPath { get; private set; }

    public AppTrafficMeter? Meter { get; private set; }

    /// <summary>The TUN of the last config brought up, set before it exists: its own link, address and route events are not network changes.</summary>
    public string? TunInterface { get; private set; }

    /// <summary>The Clash mode clash_mode rules match: the running engine's (which keeps it in the cache file), else "rule".</summary>
    public string Mode => Engine?.Mode.Current ?? "rule";

    /// <summary>The modes a client may switch to (the default, rule, global, direct, and those the rules name).</summary>
    public IReadOnlyList<string> Modes => Engine?.Mode.Known ?? ["rule", "global", "direct"];

    /// <summary>Switches the Clash mode for the next flows; null when done, else why not.</summary>
    public string? SetMode(string mode)
    {
        if (Engine is not { } engine) return "the engine is not running (`sluice up` first)";
        return engine.Mode.TrySet(mode) ? null : $"mode \"{mode}\": one of {string.Join(", ", engine.Mode.Known)}";
    }

    /// <summary>Every state change, for /api/events subscribers and the log.</summary>
    public event Action<StateEvent>? StateChanged;

    private string? _configJson;

    /// <summary>
    /// Brings a config up: inline JSON, else a file, else the daemon's -c file, else the remembered one.
    /// A running engine is stopped first. The answer is an envelope; a config error leaves the state as it was.
    /// </summary>
    public async Task<Envelope> UpAsync(string? configJson, string? configPath, string? server, FileCaller? caller = null)
    {
        await _actions.WaitAsync().ConfigureAwait(false);
        try
        {
            return await UpLockedAsync(configJson, configPath, server, caller).ConfigureAwait(false);
        }
        finally
        {
            _actions.Release();
        }
    }

    private async Task<Envelope> UpLockedAsync(string? configJson, string? configPath, string? server, FileCaller? caller)
    {
        if (configJson is null)
        {
            configPath ??= _daemonConfigPath;
            if (configPath is null)
            {
                var remembered = _store.Load();
                if (remembered is null)
                    return Envelopes.Fail(ApiCodes.NoConfig, "no config to bring up: pass one (`sluice up -c config.json`), or start the daemon with `sluice daemon -c config.json`");
                configJson = remembered.ConfigJson;
                configPath = remembered.ConfigPath;
                caller = remembered.Caller;
            }
            else
            {
                var read = await ReadConfigAsync(configPath, "", caller).ConfigureAwait(false);
                if (read.Json is null) return read.Refusal!;
                configJson = read.Json;
            }
        }

        var loaded = LoadConfig(configJson, configPath, "", caller);
        if (loaded.Config is not { } config) return loaded.Refusal!;

        if (RefuseChosenFiles(config, configPath) is { } filesRefusal) return Envelopes.Fail(ApiCodes.InvalidConfig, filesRefusal);

        string? refusal;
        try
        {
            refusal = _platform.GateRefusal(config);
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            refusal = $"cannot compare the config's gate with the loaded one: {e.Message}";
        }
        if (refusal is not null) return Envelopes.Fail(ApiCodes.GateRefused, refusal);

        StopEngine(EngineStates.Connecting, "restarting with a new config");
        TunInterface = config.TunInbounds.FirstOrDefault()?.InterfaceName;
        SetState(EngineStates.Connecting, null, "up");
        var enginePlatform = _platform.Engine();
        var engine = new SluiceEngine(config, enginePlatform, _logs);
        // /connections and per-app speeds name the app even when no rule needed the process.
        if (enginePlatform.Processes is { } processes) engine.Connections.ProcessResolver = processes.Find;
        engine.Connections.ChainResolver = lane => EngineViews.Chain(engine.Outbounds, lane);
        try
        {
            await Task.Run(() =>
            {
                _gate = _platform.ApplyGate(config, _logs.CreateLogger("gate"));
                engine.Start();
            }).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            engine.Dispose();
            _gate?.Dispose();
            _gate = null;
            string reason = $"the engine did not start: {e.Message}";
            LogStartFailed(_logger, reason);
            SetState(EngineStates.Error, new ErrorInfo(ApiCodes.EngineFailed, reason), "up failed");
            // Remembered anyway: a restarted daemon retries what the user asked for.
            _store.SaveUp(configJson, configPath, caller);
            _caller = caller;
            return Envelopes.Fail(ApiCodes.EngineFailed, reason + " (the daemon keeps running; fix the cause and run `sluice up` again)");
        }

        Engine = engine;
        Config = config;
        ConfigPath = configPath;
        _configJson = configJson;
        _caller = caller;
        Meter = new AppTrafficMeter(engine.Connections, _time.GetUtcNow());
        _sampler = new Timer(_ => Sample(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        ConnectedAt = _time.GetUtcNow();
        _store.SaveUp(configJson, configPath, caller);
        SetState(EngineStates.Connected, null, "up");

        if (server is not null && !SelectServer(server))
            return Envelopes.Fail(ApiCodes.NotFound, $"connected, but no selector group has a member \"{server}\" (see `sluice servers`)", Status());
        return Envelopes.Ok(Status());
    }

    public async Task<Envelope> DownAsync()
    {
        await _actions.WaitAsync().ConfigureAwait(false);
        try
        {
            ForgetApp();
            _store.SaveDown();
            StopEngine(EngineStates.Disconnected, "down");
            return Envelopes.Ok(Status());
        }
        finally
        {
            _actions.Release();
        }
    }

    /// <summary>Daemon start: a remembered "up" comes back on its own (after kill -9, a crash, a reboot).</summary>
    public async Task ResumeAsync()
    {
        var remembered = _store.Load();
        if (remembered is not { Up: true }) return;
        LogResuming(_logger, remembered.ConfigPath ?? "the remembered inline config");
        // The file may have changed or gone since; the copy is what was running.
        await UpAsync(remembered.ConfigJson, remembered.ConfigPath, null, remembered.Caller).ConfigureAwait(false);
    }

    public bool SelectServer(string member)
    {
        var engine = Engine;
        if (engine is null) return false;
        bool any = false;
        foreach (var outbound in engine.Outbounds.Values)
            if (EngineViews.Group(outbound) is { Type: "selector" } && EngineViews.Select(outbound, member)) any = true;
        return any;
    }

    /// <summary>
    /// The 1 s traffic sample. A sample still running when the timer fires again makes that tick a no-op: the
    /// timer does not wait for its callback, and under a flood of new flows (a process lookup each) queued
    /// ticks took every thread-pool thread, which starved the stop path (issue 17's SIGTERM hang).
    /// </summary>
    private void Sample()
    {
        if (Interlocked.Exchange(ref _sampling, 1) == 1) return;
        try
        {
            Meter?.Sample(_time.GetUtcNow());
        }
        catch (Exception e)
        {
            LogSampleFailed(_logger, e.Message);
        }
        finally
        {
            Volatile.Write(ref _sampling, 0);
        }
    }

    private void StopEngine(string nextState, string reason)
    {
        _sampler?.Dispose();
        _sampler = null;
        var engine = Engine;
        Engine = null;
        if (engine is not null)
        {
            try
            {
                engine.Stop();
            }
            catch (Exception e)
            {
                LogStopFailed(_logger, e.Message);
            }
            engine.Dispose();
        }
        // The gate itself stays loaded (fail-shut); only its watcher goes.
        _gate?.Dispose();
        _gate = null;
        if (nextState == EngineStates.Disconnected)
        {
            Config = null;
            ConfigPath = null;
            _configJson = null;
            Meter = null;
        }
        ConnectedAt = null;
        if (engine is not null || (State != nextState && nextState == EngineStates.Disconnected)) SetState(nextState, null, reason);
    }

    internal void SetState(string state, ErrorInfo? error, string? reason)
    {
        StateEvent change;
        lock (_stateLock)
        {
            State = state;
            Error = error;
            Since = _time.GetUtcNow();
            change = new StateEvent(state, Since, error, reason);
        }
        LogState(_logger, state, reason ?? "", error?.Message ?? "");
        try
        {
            StateChanged?.Invoke(change);
        }
        catch (Exception e)
        {
            LogSampleFailed(_logger, e.Message);
        }
    }

    public string Version { get; init; } = "";

    /// <summary>
    /// The daemon stops (SIGTERM, shutdown): the engine stops, but "up" stays remembered for the next start.
    /// Once only: the actions lock is taken here for good (no action may start an engine after it), so a second
    /// call would wait its whole timeout for it (every SIGTERM took over 10 s, past systemd's stop timeout under load).
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        // No new sample from here on: one queued behind a slow lookup must not hold up the stop.
        _sampler?.Dispose();
        _actions.Wait(TimeSpan.FromSeconds(10));
        ForgetApp();
        StopEngine(EngineStates.Disconnected, "daemon stopping");
        _networkDebounce?.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "state {State} ({Reason}) {Error}")]
    private static partial void LogState(ILogger logger, string state, string reason, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Reason}")]
    private static partial void LogStartFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "engine stop: {Reason}")]
    private static partial void LogStopFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "traffic sample: {Reason}")]
    private static partial void LogSampleFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "bringing up what was up before the daemon stopped: {Config}")]
    private static partial void LogResuming(ILogger logger, string config);
}
