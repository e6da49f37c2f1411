using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Sluice.Core.Configuration;

namespace Sluice.Core.State;

/// <summary>
/// experimental.cache_file: one JSON file holding, per cache_id, the Clash mode, the member picked in
/// each selector, the member a dashboard pinned in each urltest/fallback group ("fixed", as mihomo keeps it), and (store_fakeip) every fake address with its name. Every change is written whole
/// and atomically (temporary file, fsync, rename), at most once per <see cref="SaveDelay"/>; a file that
/// does not parse is renamed aside with a warning and the engine starts with nothing remembered — a
/// cache never stops the engine. Remote rule-set bodies live next to it (rule-sets/, one file each).
/// </summary>
public sealed partial class CacheFile : IDisposable
{
    /// <summary>Changes coming close together (a burst of fake addresses) are written once.</summary>
    public static readonly TimeSpan SaveDelay = TimeSpan.FromSeconds(1);

    private const int FormatVersion = 1;

    private readonly string _path;
    private readonly string _id;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly JsonObject _root;
    private readonly ITimer _timer;
    private readonly List<Func<JsonObject, bool>> _contributors = [];
    private bool _dirty;

    /// <summary>Timers of contributors, stopped before the last write.</summary>
    internal List<IDisposable> Owned { get; } = [];

    private CacheFile(string path, string id, JsonObject root, ILogger logger, TimeProvider time)
    {
        _path = path;
        _id = id;
        _root = root;
        _logger = logger;
        _timer = time.CreateTimer(_ => Flush(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public string Path => _path;

    /// <summary>Opens the file (a missing one is empty); a corrupt one is set aside as PATH.corrupt-TIME.</summary>
    public static CacheFile Open(CacheFileOptions options, ILogger logger, TimeProvider time)
    {
        JsonObject root = new() { ["version"] = FormatVersion, ["entries"] = new JsonObject() };
        try
        {
            if (File.Exists(options.Path))
            {
                if (JsonNode.Parse(File.ReadAllBytes(options.Path)) is JsonObject parsed && parsed["entries"] is JsonObject) root = parsed;
                else throw new JsonException("not a Sluice cache file (no \"entries\" object)");
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            string aside = $"{options.Path}.corrupt-{time.GetUtcNow():yyyyMMddHHmmss}";
            try
            {
                File.Move(options.Path, aside, overwrite: true);
            }
            catch (Exception moveError) when (moveError is IOException or UnauthorizedAccessException)
            {
                aside = $"(could not be moved: {moveError.Message})";
            }
            LogCorrupt(logger, options.Path, e.Message, aside);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogUnreadable(logger, options.Path, e.Message);
        }
        return new CacheFile(options.Path, options.CacheId, root, logger, time);
    }

    /// <summary>The remembered Clash mode, null when none.</summary>
    public string? Mode
    {
        get
        {
            lock (_lock) return Entry()["mode"] is JsonValue v && v.TryGetValue(out string? s) ? s : null;
        }
    }

    public void SetMode(string mode) => Change(e => e["mode"] = mode);

    /// <summary>The member last picked in a selector, null when none.</summary>
    public string? SelectedOf(string group) => MemberIn("selected", group);

    public void SetSelected(string group, string member) => Change(e => Members(e, "selected")[group] = member);

    /// <summary>The member a urltest/fallback group was pinned to, null when none.</summary>
    public string? PinnedOf(string group) => MemberIn("pinned", group);

    private string? MemberIn(string section, string group)
    {
        lock (_lock) return Entry()[section] is JsonObject o && o[group] is JsonValue v && v.TryGetValue(out string? s) ? s : null;
    }

    /// <summary>Remembers a pin; null forgets it (the group picks by probes again).</summary>
    public void SetPinned(string group, string? member) => Change(e =>
    {
        if (member is not null) Members(e, "pinned")[group] = member;
        else if (e["pinned"] is JsonObject pinned) pinned.Remove(group);
    });

    private static JsonObject Members(JsonObject entry, string section)
    {
        if (entry[section] is not JsonObject members) entry[section] = members = new JsonObject();
        return members;
    }

    /// <summary>A section that another component fills when the file is written (fake addresses); it returns false when it has nothing new.</summary>
    internal JsonNode? Section(string name)
    {
        lock (_lock) return Entry()[name]?.DeepClone();
    }

    /// <summary>Registers a component that updates its section of the entry at each write; <see cref="MarkDirty"/> asks for one.</summary>
    internal void Contribute(Func<JsonObject, bool> update)
    {
        lock (_lock) _contributors.Add(update);
    }

    internal void MarkDirty()
    {
        lock (_lock)
        {
            if (_dirty) return;
            _dirty = true;
            _timer.Change(SaveDelay, Timeout.InfiniteTimeSpan);
        }
    }

    private void Change(Action<JsonObject> change)
    {
        lock (_lock)
        {
            change(Entry());
            _dirty = true;
        }
        Flush();
    }

    /// <summary>Writes the file now if anything changed. Failures are logged; the engine goes on.</summary>
    public void Flush()
    {
        byte[] bytes;
        lock (_lock)
        {
            var entry = Entry();
            foreach (var contribute in _contributors) _dirty |= contribute(entry);
            if (!_dirty) return;
            _dirty = false;
            bytes = System.Text.Encoding.UTF8.GetBytes(_root.ToJsonString(ConfigJson.Readable));
        }
        try
        {
            AtomicFile.Write(_path, bytes, ownerOnly: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogWriteFailed(_logger, _path, e.Message);
        }
    }

    private JsonObject Entry()
    {
        var entries = (JsonObject)_root["entries"]!;
        if (entries[_id] is not JsonObject entry) entries[_id] = entry = new JsonObject();
        return entry;
    }

    public void Dispose()
    {
        foreach (var owned in Owned) owned.Dispose();
        _timer.Dispose();
        Flush();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "cache file {Path} is corrupt ({Reason}); set aside as {Aside}, starting with nothing remembered")]
    private static partial void LogCorrupt(ILogger logger, string path, string reason, string aside);

    [LoggerMessage(Level = LogLevel.Warning, Message = "cache file {Path} cannot be read ({Reason}); starting with nothing remembered")]
    private static partial void LogUnreadable(ILogger logger, string path, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "cache file {Path} cannot be written: {Reason}")]
    private static partial void LogWriteFailed(ILogger logger, string path, string reason);
}
