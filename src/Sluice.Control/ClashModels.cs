using System.Text.Json.Serialization;

namespace Sluice.Control;

// Clash's monitoring API shapes (what yacd, metacubexd and scripts read). Names are Clash's, not ours:
// camelCase, "sourceIP", "chains" innermost-last, timestamps as RFC 3339.

public sealed record ClashConnections(
    [property: JsonPropertyName("downloadTotal")] long DownloadTotal,
    [property: JsonPropertyName("uploadTotal")] long UploadTotal,
    [property: JsonPropertyName("connections")] IReadOnlyList<ClashConnection> Connections,
    [property: JsonPropertyName("memory")] long Memory);

public sealed record ClashConnection(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("metadata")] ClashMetadata Metadata,
    [property: JsonPropertyName("upload")] long Upload,
    [property: JsonPropertyName("download")] long Download,
    [property: JsonPropertyName("start")] DateTimeOffset Start,
    [property: JsonPropertyName("chains")] IReadOnlyList<string> Chains,
    [property: JsonPropertyName("rule")] string Rule,
    [property: JsonPropertyName("rulePayload")] string RulePayload);

public sealed record ClashMetadata(
    [property: JsonPropertyName("network")] string Network,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("sourceIP")] string SourceIp,
    [property: JsonPropertyName("destinationIP")] string DestinationIp,
    [property: JsonPropertyName("sourcePort")] string SourcePort,
    [property: JsonPropertyName("destinationPort")] string DestinationPort,
    [property: JsonPropertyName("host")] string Host,
    [property: JsonPropertyName("process")] string Process,
    [property: JsonPropertyName("processPath")] string ProcessPath,
    [property: JsonPropertyName("uid")] uint? Uid);

/// <summary>One <c>/traffic</c> sample: bytes in the last second, plus Sluice's running totals.</summary>
public sealed record ClashTraffic(
    [property: JsonPropertyName("up")] long Up,
    [property: JsonPropertyName("down")] long Down,
    [property: JsonPropertyName("upTotal")] long UpTotal,
    [property: JsonPropertyName("downTotal")] long DownTotal);

public sealed record ClashLog(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("payload")] string Payload);

public sealed record ClashDelayPoint(
    [property: JsonPropertyName("time")] DateTimeOffset Time,
    [property: JsonPropertyName("delay")] int Delay);

public sealed record ClashProxy
{
    [JsonPropertyName("name")] public required string Name { get; init; }

    [JsonPropertyName("type")] public required string Type { get; init; }

    [JsonPropertyName("udp")] public bool Udp { get; init; } = true;

    [JsonPropertyName("history")] public IReadOnlyList<ClashDelayPoint> History { get; init; } = [];

    [JsonPropertyName("now")] [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Now { get; init; }

    [JsonPropertyName("all")] [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public IReadOnlyList<string>? All { get; init; }
}

/// <summary>One /rules item; <see cref="Extra"/> (mihomo's) makes the dashboards show the rule's switch and hit count.</summary>
public sealed record ClashRule(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("payload")] string Payload,
    [property: JsonPropertyName("proxy")] string Proxy)
{
    [JsonPropertyName("index")] public int Index { get; init; }

    [JsonPropertyName("extra")] [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public ClashRuleExtra? Extra { get; init; }
}

/// <param name="HitCount">Decisions the rule made since the engine started or last reloaded.</param>
/// <param name="HitAt">The last of them; null when none.</param>
public sealed record ClashRuleExtra(
    [property: JsonPropertyName("disabled")] bool Disabled,
    [property: JsonPropertyName("hitCount")] long HitCount,
    [property: JsonPropertyName("hitAt")] DateTimeOffset? HitAt);
