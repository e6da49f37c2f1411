using Microsoft.Extensions.Logging;

namespace Sluice.Core;

/// <summary>
/// The engine's start as an ordered list of stages, each with its stop:
/// 1. <see cref="Start"/> runs a stage's start and, once it returned, remembers its stop;
/// 2. a start that throws stops the stages already started, newest first, and throws <see cref="EngineStartException"/>
///    naming the stage after the original message (which stays first, so a config error still opens with its JSON path);
/// 3. <see cref="StopAll"/> stops every started stage in reverse of their start; a stop that throws is logged and
///    the next one still runs. Stopping twice stops nothing the second time.
/// </summary>
internal sealed partial class EngineStages(ILogger logger)
{
    private readonly List<(string Name, Action Stop)> _started = [];

    /// <summary>The stages started and not yet stopped, in start order.</summary>
    public IReadOnlyList<string> Started
    {
        get
        {
            lock (_started) return _started.Select(s => s.Name).ToArray();
        }
    }

    /// <summary>Called with each stage's name before its stop runs (a test records the order).</summary>
    public Action<string>? Stopping { get; set; }

    public void Start(string name, Action start, Action? stop = null)
    {
        try
        {
            start();
        }
        catch (Exception e)
        {
            LogStartFailed(logger, name, e.Message);
            StopAll();
            throw new EngineStartException(name, e);
        }
        lock (_started) _started.Add((name, stop ?? (() => { })));
    }

    public void StopAll()
    {
        while (true)
        {
            (string Name, Action Stop) stage;
            lock (_started)
            {
                if (_started.Count == 0) return;
                stage = _started[^1];
                _started.RemoveAt(_started.Count - 1);
            }
            try
            {
                Stopping?.Invoke(stage.Name);
                stage.Stop();
            }
            catch (Exception e)
            {
                LogStopFailed(logger, stage.Name, e.Message);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "engine start failed at stage \"{Stage}\": {Reason}; the stages started before it are stopped")]
    private static partial void LogStartFailed(ILogger logger, string stage, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "stopping stage \"{Stage}\": {Reason}")]
    private static partial void LogStopFailed(ILogger logger, string stage, string reason);
}

/// <summary>A stage of the engine's start failed; <see cref="Exception.InnerException"/> says why.</summary>
public sealed class EngineStartException(string stage, Exception inner)
    : InvalidOperationException($"{inner.Message} (engine start, stage \"{stage}\")", inner)
{
    /// <summary>The stage that failed ("tun", "tcp relays", …).</summary>
    public string Stage => stage;
}
