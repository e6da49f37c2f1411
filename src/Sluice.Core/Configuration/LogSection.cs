using System.Text.Json;

namespace Sluice.Core.Configuration;

/// <summary>"log": {"disabled", "level", "timestamp", "output"}.</summary>
internal static class LogSection
{
    public static readonly string[] Levels = ["trace", "debug", "info", "warn", "error", "fatal", "panic"];

    public static void Parse(JsonElement element, string path, ConfigBuilder config)
    {
        if (ObjectReader.Open(element, path, config.Errors) is not { } r) return;
        bool disabled = r.Bool("disabled", false);
        string level = r.String("level") ?? "info";
        if (level == "warning") level = "warn"; // sing-box's parser takes both spellings
        if (!Levels.Contains(level))
        {
            config.Errors.Add(r.PathOf("level"), $"unknown level {JsonPath.Quote(level)} (expected one of {string.Join(", ", Levels)})");
            level = "info";
        }
        bool timestamp = r.Bool("timestamp", true);
        string? output = r.String("output");
        if (output is { Length: 0 }) output = null;
        r.Finish();
        config.Log = new LogOptions(disabled, level, timestamp, output);
    }
}
