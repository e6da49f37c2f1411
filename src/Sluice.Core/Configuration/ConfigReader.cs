using System.Globalization;
using System.Text.Json;

namespace Sluice.Core.Configuration;

/// <summary>Collects every error of one load, so a user fixes a config in one pass, not one error per run.</summary>
internal sealed class ErrorList
{
    private readonly List<ConfigError> _errors = [];

    public IReadOnlyList<ConfigError> Items => _errors;

    public int Count => _errors.Count;

    /// <summary>The load's file source: it travels with the error list, the one object every reader of a load shares.</summary>
    public IFileSource Files { get; init; } = BoundedFileSource.Instance;

    /// <summary>A file the config names, read through <see cref="Files"/>; null with an error at <paramref name="path"/> when refused or unreadable.</summary>
    public string? ReadText(string path, string file, long maxBytes)
    {
        try
        {
            return System.Text.Encoding.UTF8.GetString(Files.Read(file, maxBytes));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            Add(path, $"{JsonPath.Quote(file)} does not exist");
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Add(path, $"cannot read {JsonPath.Quote(file)}: {e.Message}");
            return null;
        }
    }

    public void Add(string path, string message) => _errors.Add(new ConfigError(path, message));
}

/// <summary>JSON path building: <c>route.rules[3].ip_cidr[1]</c>.</summary>
internal static class JsonPath
{
    public static string Field(string parent, string name) => parent.Length == 0 ? name : $"{parent}.{name}";

    public static string Index(string parent, int index) => $"{parent}[{index}]";

    public static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        _ => "null",
    };

    public static string Quote(string s) => "\"" + JsonEncodedText.Encode(s) + "\"";
}

/// <summary>
/// Reads one JSON object field by field. Every field read is remembered; <see cref="Finish"/> reports
/// the rest as unknown, which is how typos and unsupported sing-box options surface with their path.
/// A JSON null reads as "absent" (the default applies).
/// </summary>
internal sealed class ObjectReader
{
    private readonly JsonElement _object;
    private readonly HashSet<string> _taken = new(StringComparer.Ordinal);

    private ObjectReader(JsonElement obj, string path, ErrorList errors)
    {
        _object = obj;
        Path = path;
        Errors = errors;
    }

    public string Path { get; }

    public ErrorList Errors { get; }

    /// <summary>Null (with an error) when <paramref name="element"/> is not an object.</summary>
    public static ObjectReader? Open(JsonElement element, string path, ErrorList errors)
    {
        if (element.ValueKind == JsonValueKind.Object) return new ObjectReader(element, path, errors);
        errors.Add(path, $"expected an object, got {JsonPath.Kind(element)}");
        return null;
    }

    public string PathOf(string name) => JsonPath.Field(Path, name);

    public bool Has(string name) =>
        _object.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null;

    /// <summary>Marks a field as consumed and returns it, or null when absent/null.</summary>
    public JsonElement? Take(string name)
    {
        _taken.Add(name);
        return _object.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;
    }

    public string? String(string name)
    {
        if (Take(name) is not { } v) return null;
        if (v.ValueKind == JsonValueKind.String) return v.GetString()!;
        TypeError(PathOf(name), "a string", v);
        return null;
    }

    public bool Bool(string name, bool defaultValue)
    {
        if (Take(name) is not { } v) return defaultValue;
        if (v.ValueKind is JsonValueKind.True or JsonValueKind.False) return v.GetBoolean();
        TypeError(PathOf(name), "a boolean", v);
        return defaultValue;
    }

    public long? Integer(string name, long min, long max) =>
        Take(name) is { } v ? ReadInteger(v, PathOf(name), min, max, Errors) : null;

    /// <summary>A fwmark: a number, or a "0x…" hex string as sing-box 1.12 also accepts.</summary>
    /// <summary>A network interface name (SO_BINDTODEVICE); "" reads as absent, as sing-box reads it.</summary>
    public string? Interface(string name)
    {
        if (String(name) is not { Length: > 0 } device) return null;
        if (InterfaceNames.IsValid(device)) return device;
        Errors.Add(PathOf(name), InterfaceNames.Problem(device));
        return null;
    }

    public uint? Mark(string name)
    {
        if (Take(name) is not { } v) return null;
        string path = PathOf(name);
        if (v.ValueKind == JsonValueKind.String)
        {
            string s = v.GetString()!;
            bool hex = s.StartsWith("0x", StringComparison.OrdinalIgnoreCase);
            if (hex ? uint.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out uint h)
                    : uint.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out h))
                return h;
            Errors.Add(path, $"{JsonPath.Quote(s)} is not a mark (a number or \"0x…\" hex)");
            return null;
        }
        return ReadInteger(v, path, 0, uint.MaxValue, Errors) is { } n ? (uint)n : null;
    }

    public TimeSpan? Duration(string name)
    {
        if (Take(name) is not { } v) return null;
        string path = PathOf(name);
        if (v.ValueKind != JsonValueKind.String)
        {
            TypeError(path, "a duration string like \"5s\"", v);
            return null;
        }
        string s = v.GetString()!;
        if (GoDuration.TryParse(s, out var d) && d >= TimeSpan.Zero) return d;
        Errors.Add(path, $"{JsonPath.Quote(s)} is not a duration (examples: \"300ms\", \"5s\", \"1m30s\")");
        return null;
    }

    /// <summary>
    /// A list field; a single value stands for a one-item list, as in sing-box. Items that fail
    /// <paramref name="parseItem"/> are left out (it has reported the error at the item's path).
    /// </summary>
    public IReadOnlyList<T> List<T>(string name, Func<JsonElement, string, ErrorList, Optional<T>> parseItem)
    {
        if (Take(name) is not { } v) return [];
        string path = PathOf(name);
        var result = new List<T>();
        if (v.ValueKind == JsonValueKind.Array)
        {
            int i = 0;
            foreach (var item in v.EnumerateArray())
            {
                if (parseItem(item, JsonPath.Index(path, i++), Errors) is { HasValue: true } r) result.Add(r.Value);
            }
        }
        else if (parseItem(v, path, Errors) is { HasValue: true } r)
        {
            result.Add(r.Value);
        }
        return result;
    }

    public IReadOnlyList<string> Strings(string name) => List(name, StringItem);

    /// <summary>
    /// Reports fields nobody read, and keys that appear twice. A field <paramref name="explainUnknown"/> knows
    /// (a sing-box option Sluice does not have) is refused only when its value asks for something: an
    /// <see cref="IsInert"/> value means what the field's absence means, so it is accepted.
    /// </summary>
    public void Finish(Func<string, string?>? explainUnknown = null)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in _object.EnumerateObject())
        {
            if (!seen.Add(p.Name))
                Errors.Add(PathOf(p.Name), "duplicate field");
            else if (!_taken.Contains(p.Name))
            {
                string? known = explainUnknown?.Invoke(p.Name);
                if (known is not null && IsInert(p.Value)) continue;
                Errors.Add(PathOf(p.Name), known ?? "unknown field");
            }
        }
    }

    /// <summary>Takes an option Sluice does not have: an error at its path unless its value <see cref="IsInert"/>.</summary>
    public void RefuseUnlessInert(string name, string message)
    {
        if (Take(name) is { } v && !IsInert(v)) Errors.Add(PathOf(name), message);
    }

    /// <summary>
    /// A value that asks for nothing: false, 0, "", [], an object whose "enabled" is false, or one whose every field is
    /// such a value. sing-box reads its options into Go structs, where a zero value and an absent field are the same,
    /// and exported configs are full of them (<c>"multiplex": {"enabled": false, ...}</c>, <c>"udp_over_tcp": false</c>,
    /// <c>"platform": {"http_proxy": {"enabled": false}}</c>).
    /// </summary>
    public static bool IsInert(JsonElement v) => IsInert(v, depth: 0);

    private static bool IsInert(JsonElement v, int depth) => v.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.False => true,
        JsonValueKind.String => v.GetString()!.Length == 0,
        JsonValueKind.Number => v.TryGetDouble(out double d) && d == 0,
        JsonValueKind.Array => v.GetArrayLength() == 0,
        JsonValueKind.Object => (v.TryGetProperty("enabled", out var enabled) && enabled.ValueKind == JsonValueKind.False)
            || (depth < 8 && v.EnumerateObject().All(p => IsInert(p.Value, depth + 1))),
        _ => false,
    };

    /// <summary>Marks a field as read without looking at it (e.g. $schema).</summary>
    public void Ignore(string name) => _taken.Add(name);

    public static Optional<string> StringItem(JsonElement e, string path, ErrorList errors)
    {
        if (e.ValueKind == JsonValueKind.String) return e.GetString()!;
        TypeError(path, "a string", e, errors);
        return default;
    }

    public static long? ReadInteger(JsonElement v, string path, long min, long max, ErrorList errors)
    {
        if (v.ValueKind != JsonValueKind.Number)
        {
            TypeError(path, "a number", v, errors);
            return null;
        }
        if (!v.TryGetInt64(out long n))
        {
            errors.Add(path, $"{v.GetRawText()} is not a whole number");
            return null;
        }
        if (n < min || n > max)
        {
            errors.Add(path, $"{n} is out of range ({min}..{max})");
            return null;
        }
        return n;
    }

    private void TypeError(string path, string expected, JsonElement got) => TypeError(path, expected, got, Errors);

    public static void TypeError(string path, string expected, JsonElement got, ErrorList errors) =>
        errors.Add(path, $"expected {expected}, got {JsonPath.Kind(got)}");
}

/// <summary>A parsed list item or nothing (the error was reported), without boxing value types.</summary>
internal readonly struct Optional<T>
{
    public Optional(T value)
    {
        Value = value;
        HasValue = true;
    }

    public T Value { get; }

    public bool HasValue { get; }

    public static implicit operator Optional<T>(T value) => new(value);
}
