using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Sluice.Control;

namespace Sluice.Daemon;

/// <summary>
/// A logger provider that keeps the last 500 lines and hands every new one to /logs subscribers. A slow
/// subscriber loses lines (bounded channel, drop oldest) rather than slowing the engine.
/// </summary>
public sealed class LogBroadcast : ILoggerProvider
{
    /// <summary>The daemon's own level: lines below it never reach /logs, whatever level a client asks for.</summary>
    public LogLevel Minimum { get; init; } = LogLevel.Information;

    /// <summary>Stamps each line (shown by /logs?format=structured).</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    private const int Backlog = 500;
    private readonly Queue<(LogLevel Level, ClashLog Line)> _recent = new();
    private readonly List<Channel<(LogLevel, ClashLog)>> _subscribers = [];
    private readonly object _lock = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    internal IReadOnlyList<(LogLevel Level, ClashLog Line)> Recent(int count)
    {
        lock (_lock) return _recent.Skip(Math.Max(0, _recent.Count - count)).ToArray();
    }

    internal ChannelReader<(LogLevel, ClashLog)> Subscribe(CancellationToken cancellationToken)
    {
        var channel = Channel.CreateBounded<(LogLevel, ClashLog)>(new BoundedChannelOptions(1000) { FullMode = BoundedChannelFullMode.DropOldest });
        lock (_lock) _subscribers.Add(channel);
        cancellationToken.Register(() =>
        {
            lock (_lock) _subscribers.Remove(channel);
            channel.Writer.TryComplete();
        });
        return channel.Reader;
    }

    public static string TypeOf(LogLevel level) => level switch
    {
        LogLevel.Trace or LogLevel.Debug => "debug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warning",
        _ => "error",
    };

    public static LogLevel? ParseLevel(string? text) => text switch
    {
        null or "" or "info" => LogLevel.Information,
        "debug" or "trace" => LogLevel.Debug,
        "warning" or "warn" => LogLevel.Warning,
        "error" => LogLevel.Error,
        "silent" => LogLevel.None,
        _ => null,
    };

    private void Publish(LogLevel level, string category, string message)
    {
        var line = new ClashLog(TypeOf(level), $"{category}: {message}") { Time = Time.GetLocalNow() };
        lock (_lock)
        {
            _recent.Enqueue((level, line));
            if (_recent.Count > Backlog) _recent.Dequeue();
            foreach (var subscriber in _subscribers) subscriber.Writer.TryWrite((level, line));
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var subscriber in _subscribers) subscriber.Writer.TryComplete();
            _subscribers.Clear();
        }
    }

    private sealed class Logger(LogBroadcast owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= owner.Minimum && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            string message = formatter(state, exception);
            if (exception is not null) message += $" ({exception.GetType().Name}: {exception.Message})";
            owner.Publish(logLevel, category, message);
        }
    }
}
