using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace Sluice.Hosting.Linux.Logging;

/// <summary>
/// One line per entry: <c>12:00:01.234 info  tcp: message</c>. The default simple formatter also prints
/// generated event ids, which mean nothing to a person reading the log.
/// </summary>
internal sealed class LineFormatter() : ConsoleFormatter(FormatterName)
{
    public const string FormatterName = "sluice";

    /// <summary>Timestamps on or off, from the config's log.timestamp.</summary>
    public static bool Timestamps { get; set; } = true;

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        string message = logEntry.Formatter(logEntry.State, logEntry.Exception);
        if (Timestamps) textWriter.Write(DateTime.Now.ToString("HH:mm:ss.fff "));
        textWriter.Write(logEntry.LogLevel switch
        {
            LogLevel.Trace => "trace ",
            LogLevel.Debug => "debug ",
            LogLevel.Information => "info  ",
            LogLevel.Warning => "warn  ",
            LogLevel.Error => "error ",
            _ => "fatal ",
        });
        textWriter.Write(logEntry.Category);
        textWriter.Write(": ");
        textWriter.Write(message);
        if (logEntry.Exception is { } e) textWriter.Write($" ({e.GetType().Name}: {e.Message})");
        textWriter.Write('\n');
    }
}
