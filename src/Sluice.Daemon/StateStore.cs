using System.Text.Json;

namespace Sluice.Daemon;

/// <summary>
/// What the daemon remembers across its own death: the last config it brought up and whether the user wants
/// it up. A daemon restarted after kill -9 (or a reboot) finds "up" and brings that config up again on its own;
/// only `down` clears it. Files are written atomically (temp + rename) with mode 0600: a config holds keys.
/// </summary>
internal sealed class StateStore(string directory)
{
    private const string StateFile = "state.json";
    private const string ConfigFile = "last-config.json";

    public sealed record Remembered(bool Up, string? ConfigPath, string ConfigJson)
    {
        /// <summary>The API caller whose rights the config's files are read with; null = root or the daemon's own config.</summary>
        public Sluice.Core.Configuration.FileCaller? Caller { get; init; }
    }

    /// <summary>The daemon's state directory; subscription caches of API-sent configs live under it.</summary>
    public string StateDirectory => directory;

    internal sealed record StateDocument(bool Up, string? ConfigPath, DateTimeOffset SavedAt)
    {
        public uint? CallerUid { get; init; }

        public uint[]? CallerGroups { get; init; }
    }

    public void SaveUp(string configJson, string? configPath, Sluice.Core.Configuration.FileCaller? caller = null)
    {
        Write(ConfigFile, configJson);
        var doc = new StateDocument(true, configPath, DateTimeOffset.UtcNow) { CallerUid = caller?.Uid, CallerGroups = caller?.Groups.ToArray() };
        Write(StateFile, JsonSerializer.Serialize(doc, StateJsonContext.Default.StateDocument));
    }

    public void SaveDown()
    {
        if (!File.Exists(Path.Combine(directory, StateFile))) return;
        var doc = ReadState();
        Write(StateFile, JsonSerializer.Serialize(new StateDocument(false, doc?.ConfigPath, DateTimeOffset.UtcNow) { CallerUid = doc?.CallerUid, CallerGroups = doc?.CallerGroups }, StateJsonContext.Default.StateDocument));
    }

    public Remembered? Load()
    {
        var doc = ReadState();
        string config = Path.Combine(directory, ConfigFile);
        if (doc is null || !File.Exists(config)) return null;
        return new Remembered(doc.Up, doc.ConfigPath, File.ReadAllText(config))
        {
            Caller = doc.CallerUid is { } uid ? new Sluice.Core.Configuration.FileCaller(uid, doc.CallerGroups ?? []) : null,
        };
    }

    private StateDocument? ReadState()
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(Path.Combine(directory, StateFile)), StateJsonContext.Default.StateDocument);
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private void Write(string name, string text)
    {
        Directory.CreateDirectory(directory);
        string target = Path.Combine(directory, name);
        string temp = target + ".tmp";
        using (var stream = new FileStream(temp, new FileStreamOptions
               {
                   Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
               }))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(text);
            writer.Flush();
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, target, overwrite: true);
    }
}

/// <summary>state.json's contract, source-generated (PascalCase names, as the file has always been written).</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(StateStore.StateDocument))]
internal sealed partial class StateJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
