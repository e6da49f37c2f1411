using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Sluice.Tests;

/// <summary>
/// Every log line of every category at Information or above, formatted as the engine's log shows it
/// ("category: message"), for tests that assert what a person reading the log would see. Linked into each
/// test project that needs it.
/// </summary>
internal sealed class LogLines : ILoggerFactory
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyCollection<string> Lines => _lines;

    public ILogger CreateLogger(string categoryName) => new Category(this, categoryName);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    public override string ToString() => string.Join('\n', _lines);

    private sealed class Category(LogLines lines, string name) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines._lines.Enqueue($"{name}: {formatter(state, exception)}");
    }
}
