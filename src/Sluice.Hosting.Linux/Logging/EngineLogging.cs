using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Sluice.Core.Configuration;

namespace Sluice.Hosting.Linux.Logging;

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
                AddOwned(builder, LineLogWriter.ToFile(path));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new InvalidOperationException($"log.output: cannot open {path} for writing: {e.Message}");
            }
            return;
        }
        AddOwned(builder, LineLogWriter.ToConsole());
    });

    /// <summary>
    /// Registers a provider the factory disposes with itself (AddProvider's instances are never
    /// disposed), so disposing the factory writes out the lines still queued.
    /// </summary>
    public static void AddOwned(ILoggingBuilder builder, ILoggerProvider provider) =>
        builder.Services.AddSingleton(_ => provider);

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
