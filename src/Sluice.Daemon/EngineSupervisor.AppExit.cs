using Microsoft.Extensions.Logging;
using Sluice.Control;

namespace Sluice.Daemon;

/// <summary>
/// `up {pid}`: the engine lives as long as the app that asked for it. When that process exits the engine goes
/// down (state disconnected, "up" forgotten), as if the app had sent `down`; the gate, a property of the
/// ruleset, keeps holding.
/// </summary>
internal sealed partial class EngineSupervisor
{
    private AppExitWatch? _appWatch;

    /// <summary>Brings the config up and, when <paramref name="appPid"/> is given, ties the engine to that process.</summary>
    public async Task<Envelope> UpAsync(string? configJson, string? configPath, string? server, int? appPid, Sluice.Core.Configuration.FileCaller? caller = null)
    {
        if (appPid is null)
        {
            var plain = await UpAsync(configJson, configPath, server, caller).ConfigureAwait(false);
            if (plain.Ok) ForgetApp();
            return plain;
        }
        AppExitWatch watch;
        try
        {
            watch = AppExitWatch.Start(appPid.Value, OnAppExited);
        }
        catch (InvalidOperationException e)
        {
            return Envelopes.Fail(ApiCodes.BadRequest, e.Message);
        }
        var answer = await UpAsync(configJson, configPath, server, caller).ConfigureAwait(false);
        if (!answer.Ok)
        {
            watch.Dispose();
            return answer;
        }
        Interlocked.Exchange(ref _appWatch, watch)?.Dispose();
        return answer;
    }

    /// <summary>Called by every `down` and plain `up`: the engine is no longer tied to an app.</summary>
    private void ForgetApp() => Interlocked.Exchange(ref _appWatch, null)?.Dispose();

    private void OnAppExited(int pid)
    {
        _ = Task.Run(async () =>
        {
            await _actions.WaitAsync().ConfigureAwait(false);
            try
            {
                // A later up/down replaced this watch: that request wins.
                if (_appWatch?.Pid != pid) return;
                ForgetApp();
                LogAppExited(_logger, pid);
                _store.SaveDown();
                StopEngine(EngineStates.Disconnected, $"app {pid} exited");
            }
            finally
            {
                _actions.Release();
            }
        });
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "the app that brought the engine up (pid {Pid}) exited: engine down")]
    private static partial void LogAppExited(ILogger logger, int pid);
}
