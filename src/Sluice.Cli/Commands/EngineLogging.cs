using Microsoft.Extensions.Logging;
using Sluice.Core.Configuration;

namespace Sluice.Cli.Commands;

/// <summary>Logging as the config's `log` section asks: level, timestamps, disabled, and `output` (a file instead of the console).</summary>
internal static class EngineLogging
{
    public static ILoggerFactory Create(LogOptions options, bool debug) => LoggerFactory.Create(builder =>
    {
        if (options.Disabled) return;
        LineFormatter.Timestamps = options.Timestamp;
        builder.SetMinimumLevel(debug ? LogLevel.Debug : ParseLevel(options.Level));
        if (options.Output is { } path)
        {
            try
            {
                builder.AddProvider(new FileLoggerProvider(path));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new InvalidOperationException($"log.output: cannot open {path} for writing: {e.Message}");
            }
            return;
        }
        builder.AddConsole(console => console.FormatterName = LineFormatter.FormatterName)
            .AddConsoleFormatter<LineFormatter, Microsoft.Extensions.Logging.Console.ConsoleFormatterOptions>();
    });

    private static LogLevel ParseLevel(string level) => level switch
    {
        "trace" => LogLevel.Trace,
        "debug" => LogLevel.Debug,
        "info" => LogLevel.Information,
        "warn" => LogLevel.Warning,
        "error" => LogLevel.Error,
        _ => LogLevel.Critical,
    };
}
