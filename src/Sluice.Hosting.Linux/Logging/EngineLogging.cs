using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Sluice.Core.Configuration;

namespace Sluice.Hosting.Linux.Logging;

/// <summary>Logging as the config's `log` section asks: level, timestamps, disabled, and `output` (a file instead of the console).</summary>
internal static class EngineLogging
{
    /// <summary>
    /// The factory of `sluice run` and the CLI, built directly rather than through LoggerFactory.Create, whose
    /// service container took ~150 ms of the NativeAOT start (measured in libsluice, bench/README.md). The
    /// factory disposes the writer it was given with AddProvider, so disposing it writes out the queued lines.
    /// </summary>
    public static ILoggerFactory Create(LogOptions options, bool debug)
    {
        var factory = new LoggerFactory([], new LoggerFilterOptions { MinLevel = debug ? LogLevel.Debug : ParseLevel(options.Level) });
        if (options.Disabled) return factory;
        LineFormatter.Timestamps = options.Timestamp;
        try
        {
            factory.AddProvider(options.Output is { } path ? OpenFile(path) : LineLogWriter.ToConsole());
        }
        catch
        {
            factory.Dispose();
            throw;
        }
        return factory;
    }

    private static ILoggerProvider OpenFile(string path)
    {
        try
        {
            return LineLogWriter.ToFile(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"log.output: cannot open {path} for writing: {e.Message}");
        }
    }

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
