using Microsoft.Extensions.Logging;
using Sluice.Control;
using Sluice.Core;
using Sluice.Core.Configuration;

namespace Sluice.Daemon;

/// <summary>
/// Reload: the running config again, re-read from its file when it came from one.
/// 1. a config that does not load changes nothing; the answer names each error's JSON path;
/// 2. when only rules and outbounds changed (<see cref="ConfigReloadPlan"/>) the engine publishes the new routing
///    model in place: live flows on unchanged outbounds stay, those on removed or changed ones are closed;
/// 3. any other change (inbounds, DNS, the gate, …) restarts the engine as `up` does, and the answer says why.
/// </summary>
internal sealed partial class EngineSupervisor
{
    public async Task<Envelope> ReloadAsync()
    {
        await _actions.WaitAsync().ConfigureAwait(false);
        try
        {
            return await ReloadLockedAsync().ConfigureAwait(false);
        }
        finally
        {
            _actions.Release();
        }
    }

    private async Task<Envelope> ReloadLockedAsync()
    {
        string? runningJson, path;
        lock (_stateLock)
        {
            runningJson = _configJson;
            path = ConfigPath;
        }
        if (runningJson is null && path is null)
            return Envelopes.Fail(ApiCodes.NotRunning, "nothing to reload: the engine is not up (`sluice up` first)");

        const string Stays = "; the running config stays";
        string nextJson = runningJson!;
        if (path is not null)
        {
            var read = await ReadConfigAsync(path, Stays).ConfigureAwait(false);
            if (read.Json is null) return read.Refusal!;
            nextJson = read.Json;
        }
        var loaded = LoadConfig(nextJson, path, Stays);
        if (loaded.Config is not { } next) return loaded.Refusal!;
        if (RefuseChosenFiles(next, path) is { } filesRefusal) return Envelopes.Fail(ApiCodes.InvalidConfig, filesRefusal);

        var engine = Engine;
        var plan = engine is null || runningJson is null || State is not (EngineStates.Connected or EngineStates.Reconnecting)
            ? new ConfigReloadPlan("the engine is not connected", new HashSet<string>())
            : ConfigReloadPlan.Compare(runningJson, nextJson);
        if (plan.RestartReason is { } reason)
        {
            LogReloadRestarts(_logger, reason);
            int live = engine?.Connections.Count ?? 0;
            var up = await UpLockedAsync(path is null ? nextJson : null, path, null).ConfigureAwait(false);
            return up.Code != ApiCodes.Ok ? up : Envelopes.Ok(new ReloadData(0, live, [], reason, State));
        }

        EngineReload result;
        try
        {
            result = await Task.Run(() => engine!.Reload(next, plan.UnchangedOutbounds)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or ConfigException or KeyNotFoundException)
        {
            return Envelopes.Fail(ApiCodes.InvalidConfig, $"the config{(path is null ? "" : " " + path)} does not compile; the running config stays: {e.Message}");
        }
        lock (_stateLock)
        {
            Config = next;
            _configJson = nextJson;
        }
        _store.SaveUp(nextJson, path);
        return Envelopes.Ok(new ReloadData(result.Kept, result.Closed, result.ReplacedOutbounds, null, State));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "reload restarts the engine: {Reason}")]
    private static partial void LogReloadRestarts(ILogger logger, string reason);
}
