using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Sluice.Cli.Commands;

/// <summary>
/// `log.output`: entries appended to a file, one line each, in the console's format. Writes are
/// serialized and flushed per entry so a crash loses at most the entry being written.
/// </summary>
internal sealed class FileLoggerProvider(string path) : ILoggerProvider
{
    private readonly StreamWriter _writer = new(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read)) { AutoFlush = true };
    private readonly LineFormatter _formatter = new();

    public ILogger CreateLogger(string categoryName) => new FileLogger(this, categoryName);

    private void Write<TState>(in LogEntry<TState> entry)
    {
        lock (_writer) _formatter.Write(entry, null, _writer);
    }

    public void Dispose() => _writer.Dispose();

    private sealed class FileLogger(FileLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            provider.Write(new LogEntry<TState>(logLevel, category, eventId, state, exception, formatter));
    }
}
