using Microsoft.Extensions.Logging;

namespace Sluice.Native;

/// <summary>The engine's log as lines to the host's <c>log(user, level, line)</c>: "category: message".</summary>
internal sealed class HostLogProvider(HostCallbacks host) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new HostLogger(host, categoryName);

    public void Dispose()
    {
    }

    private sealed class HostLogger(HostCallbacks host, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None && host.CanLog;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            string line = $"{category}: {formatter(state, exception)}";
            if (exception is not null) line += $" ({exception.GetType().Name}: {exception.Message})";
            host.Log((int)logLevel, line);
        }
    }

    /// <summary>The config's log.level as a minimum level (sing-box names; "warn" and "warning" both).</summary>
    public static LogLevel Minimum(Sluice.Core.Configuration.LogOptions options) => options.Disabled ? LogLevel.None : options.Level switch
    {
        "trace" => LogLevel.Trace,
        "debug" => LogLevel.Debug,
        "warn" or "warning" => LogLevel.Warning,
        "error" => LogLevel.Error,
        "fatal" or "panic" => LogLevel.Critical,
        _ => LogLevel.Information,
    };
}
