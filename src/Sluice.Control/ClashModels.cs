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
    [property: JsonPropertyName("payload")] string Payload)
{
    /// <summary>When it was logged (local time); not part of Clash's line, only of the structured one.</summary>
    [JsonIgnore] public DateTimeOffset Time { get; init; }
}

/// <summary>One <c>/logs?format=structured</c> line, mihomo's shape: time of day, level ("warn", not "warning"), message, fields.</summary>
public sealed record ClashStructuredLog(
    [property: JsonPropertyName("time")] string Time,
    [property: JsonPropertyName("level")] string Level,
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("fields")] IReadOnlyList<ClashLogField> Fields)
{
    public static ClashStructuredLog Of(ClashLog line) => new(
        line.Time.ToString("HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture), line.Type == "warning" ? "warn" : line.Type, line.Payload, []);
}

public sealed record ClashLogField(
    [property: JsonPropertyName("key")] string Key,
    [property: JsonPropertyName("value")] string Value);

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

    /// <summary>urltest/fallback groups: the member pinned by hand, "" for none (mihomo's field; absent on other proxies).</summary>
    [JsonPropertyName("fixed")] [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Fixed { get; init; }
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

/// <summary>GET /dns/query's answer, in mihomo's and sing-box's shape (Google's DNS-over-HTTPS JSON, record types as numbers).</summary>
public sealed record ClashDnsQuery(
    [property: JsonPropertyName("Status")] int Status,
    [property: JsonPropertyName("Question")] IReadOnlyList<ClashDnsQuestion> Question,
    [property: JsonPropertyName("Server")] string Server,
    [property: JsonPropertyName("TC")] bool Tc,
    [property: JsonPropertyName("RD")] bool Rd,
    [property: JsonPropertyName("RA")] bool Ra,
    [property: JsonPropertyName("AD")] bool Ad,
    [property: JsonPropertyName("CD")] bool Cd)
{
    [JsonPropertyName("Answer")] [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public IReadOnlyList<ClashDnsRecord>? Answer { get; init; }

    [JsonPropertyName("Authority")] [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public IReadOnlyList<ClashDnsRecord>? Authority { get; init; }

    [JsonPropertyName("Additional")] [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public IReadOnlyList<ClashDnsRecord>? Additional { get; init; }
}

/// <summary>The question as Go's miekg/dns writes it to JSON (field names, no tags).</summary>
public sealed record ClashDnsQuestion(
    [property: JsonPropertyName("Name")] string Name,
    [property: JsonPropertyName("Qtype")] ushort Qtype,
    [property: JsonPropertyName("Qclass")] ushort Qclass);

public sealed record ClashDnsRecord(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("type")] ushort Type,
    [property: JsonPropertyName("TTL")] uint Ttl,
    [property: JsonPropertyName("data")] string Data);
