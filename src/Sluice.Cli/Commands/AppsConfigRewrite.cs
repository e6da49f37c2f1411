using System.Text.Json;
using System.Text.Json.Nodes;
using Sluice.Core.Configuration;

namespace Sluice.Cli.Commands;

/// <summary>
/// Adds process names to a lane in a config file, safely:
/// 1. the lane's rule is the first top-level route rule with process_name and that outbound (else a new rule
///    goes first, so it wins over CIDR and domain rules below it);
/// 2. the new text must validate (ConfigLoader) before anything is written;
/// 3. the old file is kept as CONFIG.bak; the new one is written to a temp file in the same folder with the
///    same mode, flushed to disk and renamed over the old (a crash leaves the old or the new, never half).
/// Comments in the file are not kept (JSON has none; sing-box tolerates them): the .bak still has them.
/// </summary>
internal sealed class AppsConfigRewrite
{
    private static readonly JsonDocumentOptions Options = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    private readonly string _path;
    private readonly string _original;
    private readonly JsonObject _root;

    private AppsConfigRewrite(string path, string original, JsonObject root)
    {
        _path = path;
        _original = original;
        _root = root;
    }

    public static AppsConfigRewrite Open(string path)
    {
        string text = File.ReadAllText(path);
        var errors = ConfigLoader.Validate(text);
        if (errors.Count > 0) throw new InvalidOperationException($"{path} does not validate now; fix it first (`sluice check -c {path}`): {errors[0]}");
        return new AppsConfigRewrite(path, text, JsonNode.Parse(text, documentOptions: Options)!.AsObject());
    }

    public IEnumerable<string> OutboundTags() =>
        (_root["outbounds"]?.AsArray() ?? []).Concat(_root["endpoints"]?.AsArray() ?? []).Select(o => o?["tag"]?.GetValue<string>()).OfType<string>();

    /// <summary>The lane of the first process_name rule, else the only outbound that is neither direct nor block.</summary>
    public string? DefaultLane()
    {
        foreach (var rule in Rules())
            if (rule["process_name"] is not null && rule["outbound"]?.GetValue<string>() is { } o) return o;
        var config = ConfigLoader.Load(_original);
        var candidates = config.Outbounds.Where(o => o.Type is not ("direct" or "block")).Select(o => o.Tag).ToArray();
        return candidates.Length == 1 ? candidates[0] : null;
    }

    /// <summary>Adds the names to the lane's rule; returns the ones that were not there.</summary>
    public IReadOnlyList<string> AddApps(IReadOnlyList<string> names, string lane)
    {
        var rule = Rules().FirstOrDefault(r => r["process_name"] is not null && r["outbound"]?.GetValue<string>() == lane && r["action"] is null or JsonValue);
        if (rule is null)
        {
            rule = new JsonObject { ["process_name"] = new JsonArray(), ["outbound"] = lane };
            var route = _root["route"] as JsonObject ?? (JsonObject)(_root["route"] = new JsonObject());
            var rules = route["rules"] as JsonArray ?? (JsonArray)(route["rules"] = new JsonArray());
            rules.Insert(0, rule);
        }
        // sing-box allows a string or a list; make it a list.
        if (rule["process_name"] is JsonValue single) rule["process_name"] = new JsonArray((JsonNode)single.GetValue<string>());
        var list = rule["process_name"]!.AsArray();
        var present = list.Select(n => n?.GetValue<string>()).ToHashSet(StringComparer.Ordinal);
        var added = names.Where(n => !present.Contains(n)).ToList();
        foreach (var name in added) list.Add((JsonNode)name);
        return added;
    }

    public string Text => _root.ToJsonString(ConfigJson.Readable) + "\n";

    public void Save()
    {
        string text = Text;
        var errors = ConfigLoader.Validate(text);
        if (errors.Count > 0) throw new InvalidOperationException($"the edited config would not validate, nothing written: {string.Join("; ", errors)}");
        var mode = File.GetUnixFileMode(_path);
        // The backup holds the same keys and passwords: root's alone (an older, wider .bak is replaced).
        string backup = _path + ".bak";
        if (File.Exists(backup)) File.Delete(backup);
        using (var bak = new FileStream(backup, new FileStreamOptions
               {
                   Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
               }))
            bak.Write(System.Text.Encoding.UTF8.GetBytes(_original));
        string temp = Path.Combine(Path.GetDirectoryName(_path)!, $".{Path.GetFileName(_path)}.{Environment.ProcessId}.tmp");
        using (var stream = new FileStream(temp, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = mode }))
        {
            stream.Write(System.Text.Encoding.UTF8.GetBytes(text));
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, _path, overwrite: true);
    }

    private IEnumerable<JsonObject> Rules() => (_root["route"]?["rules"] as JsonArray ?? []).OfType<JsonObject>();
}
