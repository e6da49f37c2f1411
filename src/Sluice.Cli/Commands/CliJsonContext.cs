using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sluice.Cli.Commands;

/// <summary>One row of `sluice servers --json`.</summary>
internal sealed record ServerLine(string Name, string Type, string? Now, IReadOnlyList<string>? All, string? Delay);

/// <summary>What the CLI itself prints as JSON, source-generated like the API (snake_case, nulls written).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(ServerLine[]))]
internal sealed partial class CliJsonContext : JsonSerializerContext;
