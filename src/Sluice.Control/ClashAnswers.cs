using System.Text.Json.Serialization;

namespace Sluice.Control;

// The small Clash answers that were anonymous objects: named so System.Text.Json's source generator can
// write them (the NativeAOT build has no reflection-based serializer). Names are Clash's.

public sealed record ClashHello([property: JsonPropertyName("hello")] string Hello);

public sealed record ClashVersion(
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("premium")] bool Premium,
    [property: JsonPropertyName("meta")] bool Meta);

public sealed record ClashTunConfig(
    [property: JsonPropertyName("enable")] bool Enable,
    [property: JsonPropertyName("device")] string? Device);

/// <summary><c>GET /configs</c>: Clash's shape; Sluice has no separate socks/redir/tproxy ports, so those are 0.</summary>
public sealed record ClashConfigs(
    [property: JsonPropertyName("port")] int Port,
    [property: JsonPropertyName("socks-port")] int SocksPort,
    [property: JsonPropertyName("redir-port")] int RedirPort,
    [property: JsonPropertyName("tproxy-port")] int TproxyPort,
    [property: JsonPropertyName("mixed-port")] int MixedPort,
    [property: JsonPropertyName("allow-lan")] bool AllowLan,
    [property: JsonPropertyName("bind-address")] string BindAddress,
    [property: JsonPropertyName("mode")] string Mode,
    [property: JsonPropertyName("mode-list")] IReadOnlyList<string> ModeList,
    [property: JsonPropertyName("log-level")] string LogLevel,
    [property: JsonPropertyName("ipv6")] bool Ipv6,
    [property: JsonPropertyName("tun")] ClashTunConfig Tun);

public sealed record ClashProxies([property: JsonPropertyName("proxies")] IReadOnlyDictionary<string, ClashProxy> Proxies);

public sealed record ClashDelay([property: JsonPropertyName("delay")] int Delay);

public sealed record ClashRules([property: JsonPropertyName("rules")] IReadOnlyList<ClashRule> Rules);

/// <summary>Clash's error body, sent with a 4xx/5xx status.</summary>
public sealed record ClashMessage([property: JsonPropertyName("message")] string Message);

/// <summary>POST /restart's answer (mihomo's shape).</summary>
public sealed record ClashStatus([property: JsonPropertyName("status")] string Status);

public sealed record ClashMemory(
    [property: JsonPropertyName("inuse")] long InUse,
    [property: JsonPropertyName("oslimit")] long OsLimit);

/// <summary>/group: the groups, in /proxies' shape.</summary>
public sealed record ClashGroups([property: JsonPropertyName("proxies")] IReadOnlyList<ClashProxy> Proxies);

/// <summary>/providers/proxies: each subscription as a proxy provider.</summary>
public sealed record ClashProviders([property: JsonPropertyName("providers")] IReadOnlyDictionary<string, ClashProxyProvider> Providers);

/// <summary>One subscription in mihomo's proxy-provider shape (the dashboards' provider list, update and health-check buttons).</summary>
/// <param name="Proxies">The servers it gives its group now, in /proxies' shape.</param>
/// <param name="UpdatedAt">When the list was last read from the provider; Go's zero time when never (as mihomo writes it: dashboards parse it as a date).</param>
public sealed record ClashProxyProvider(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("vehicleType")] string VehicleType,
    [property: JsonPropertyName("proxies")] IReadOnlyList<ClashProxy> Proxies,
    [property: JsonPropertyName("testUrl")] string TestUrl,
    [property: JsonPropertyName("updatedAt")] DateTimeOffset UpdatedAt)
{
    /// <summary>The provider's subscription-userinfo, in mihomo's field names; absent when it sent none.</summary>
    [JsonPropertyName("subscriptionInfo")] [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public ClashSubscriptionInfo? SubscriptionInfo { get; init; }
}

/// <summary>Bytes up and down, the allowance, and the end (Unix seconds, 0 = never), as mihomo names them.</summary>
public sealed record ClashSubscriptionInfo(
    [property: JsonPropertyName("Upload")] long Upload,
    [property: JsonPropertyName("Download")] long Download,
    [property: JsonPropertyName("Total")] long Total,
    [property: JsonPropertyName("Expire")] long Expire);

/// <summary>One rule set in mihomo's /providers/rules shape (Yacd-meta's and metacubexd's rule-provider list).</summary>
/// <param name="VehicleType">"HTTP" (remote), "File" (local) or "Inline".</param>
/// <param name="Behavior">"Domain", "IPCIDR" or "Classical": what the set's entries are.</param>
/// <param name="RuleCount">Items in the set (domains, CIDRs, ports, …).</param>
public sealed record ClashRuleProvider(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("vehicleType")] string VehicleType,
    [property: JsonPropertyName("behavior")] string Behavior,
    [property: JsonPropertyName("format")] string Format,
    [property: JsonPropertyName("ruleCount")] long RuleCount,
    [property: JsonPropertyName("updatedAt")] DateTimeOffset? UpdatedAt);

/// <summary>/providers/rules: every route.rule_set entry as a rule provider.</summary>
public sealed record ClashRuleProviders([property: JsonPropertyName("providers")] IReadOnlyDictionary<string, ClashRuleProvider> Providers);
