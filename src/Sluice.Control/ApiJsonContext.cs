using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sluice.Control;

/// <summary>
/// Every type the API writes or reads, for System.Text.Json's source generator: the NativeAOT `sluice` and
/// libsluice have no reflection-based serializer, so a type missing here fails with NotSupportedException in
/// the JIT build too (tests catch it). Add each new DTO of the daemon's API here. Options are the API's:
/// web defaults, snake_case names (Clash types name their properties explicitly), nulls written.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web,
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    WriteIndented = false)]
[JsonSerializable(typeof(Envelope))]
[JsonSerializable(typeof(CoreRequest))]
[JsonSerializable(typeof(StatusData))]
[JsonSerializable(typeof(ServerChoicesData))]
[JsonSerializable(typeof(StateEvent))]
[JsonSerializable(typeof(VersionData))]
[JsonSerializable(typeof(ModeData))]
[JsonSerializable(typeof(ReloadData))]
[JsonSerializable(typeof(ConfigErrorsData))]
[JsonSerializable(typeof(DeviceData))]
[JsonSerializable(typeof(AppsData))]
[JsonSerializable(typeof(ClashConnections))]
[JsonSerializable(typeof(ClashTraffic))]
[JsonSerializable(typeof(ClashLog))]
[JsonSerializable(typeof(ClashStructuredLog))]
[JsonSerializable(typeof(ClashProxy))]
[JsonSerializable(typeof(Dictionary<string, ClashProxy>))]
[JsonSerializable(typeof(ClashProxies))]
[JsonSerializable(typeof(ClashRules))]
[JsonSerializable(typeof(ClashHello))]
[JsonSerializable(typeof(ClashVersion))]
[JsonSerializable(typeof(ClashConfigs))]
[JsonSerializable(typeof(ClashDelay))]
[JsonSerializable(typeof(ClashMessage))]
[JsonSerializable(typeof(ClashStatus))]
[JsonSerializable(typeof(ClashMemory))]
[JsonSerializable(typeof(ClashDnsQuery))]
[JsonSerializable(typeof(JsonElement))]
[JsonSerializable(typeof(System.Text.Json.Nodes.JsonObject))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(ClashGroups))]
[JsonSerializable(typeof(ClashProviders))]
[JsonSerializable(typeof(ClashProxyProvider))]
[JsonSerializable(typeof(ClashRuleProviders))]
[JsonSerializable(typeof(ClashRuleProvider))]
[JsonSerializable(typeof(Dictionary<string, int>))]
[JsonSerializable(typeof(Dictionary<string, bool>))]
[JsonSerializable(typeof(string))]
public sealed partial class ApiJsonContext : JsonSerializerContext;
