using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Sluice.Control;

/// <summary>
/// Every core-action answer: <c>{"code": 0, "message": "ok", "data": {...}}</c>. A non-zero code keeps the
/// envelope and says, in <see cref="Message"/>, what to do about it (the daemon never answers a bare error).
/// </summary>
public sealed record Envelope(
    [property: JsonPropertyName("code")] int Code,
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("data")] JsonElement? Data)
{
    [JsonIgnore]
    public bool Ok => Code == ApiCodes.Ok;

    public T? DataAs<T>() => Data is { ValueKind: not JsonValueKind.Null } data ? data.Deserialize(ApiJson.TypeInfo<T>()) : default;
}

/// <summary>The envelope's codes. Stable: scripts compare them.</summary>
public static class ApiCodes
{
    public const int Ok = 0;

    /// <summary>The request is malformed (unknown action, missing or wrong params).</summary>
    public const int BadRequest = 1;

    /// <summary>The config does not validate; the message lists `path: problem` lines.</summary>
    public const int InvalidConfig = 2;

    /// <summary>The engine failed to start or stopped with an error; the daemon keeps running.</summary>
    public const int EngineFailed = 3;

    /// <summary>Nothing of that name (connection, proxy, member).</summary>
    public const int NotFound = 4;

    /// <summary>The action needs a running engine (reload while disconnected, …).</summary>
    public const int NotRunning = 5;

    /// <summary>No config to bring up: none given now, none remembered, none passed to `sluice daemon -c`.</summary>
    public const int NoConfig = 6;

    /// <summary>The config would weaken the loaded gate; only `sluice gate apply` (which asks) may do that.</summary>
    public const int GateRefused = 7;
}

/// <summary>The body of <c>POST /api/core</c>.</summary>
public sealed record CoreRequest(
    [property: JsonPropertyName("action")] string Action,
    [property: JsonPropertyName("params")] JsonElement? Params = null);

/// <summary>JSON settings shared by the daemon and its clients: <see cref="ApiJsonContext"/>'s, source-generated.</summary>
public static class ApiJson
{
    public static JsonSerializerOptions Options => ApiJsonContext.Default.Options;

    /// <summary>The generated contract of <typeparamref name="T"/>; throws NotSupportedException for a type not in <see cref="ApiJsonContext"/>.</summary>
    public static JsonTypeInfo<T> TypeInfo<T>() => (JsonTypeInfo<T>)ApiJsonContext.Default.GetTypeInfo(typeof(T))!;

    /// <summary>One line of an NDJSON stream (and any compact API JSON text).</summary>
    public static string Line<T>(T value) => JsonSerializer.Serialize(value, TypeInfo<T>());

    /// <summary>A value as a JSON element, typed by what it is at run time (an envelope's data).</summary>
    public static JsonElement Element(object value) => JsonSerializer.SerializeToElement(value, value.GetType(), ApiJsonContext.Default);
}
