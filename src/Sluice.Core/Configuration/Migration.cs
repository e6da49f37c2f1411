namespace Sluice.Core.Configuration;

/// <summary>
/// Fields sing-box removed, refused with what to write instead (`sluice check --fix` rewrites them;
/// see <see cref="ConfigMigrator"/>).
/// </summary>
internal static class Migration
{
    /// <summary>Inbound sniffing moved to route rules in sing-box 1.11 (removed in 1.13).</summary>
    public const string SniffReplacement =
        "inbound sniffing was replaced by a route rule in sing-box 1.11: put {\"inbound\": \"TAG\", \"action\": \"sniff\"} first in route.rules " +
        "(sniff_override_destination: {\"action\": \"route-options\"...} is not needed, Sluice routes by the sniffed name), or run `sluice check --fix -o new.json`";

    /// <summary>An inbound's domain_strategy moved to the resolve rule action in sing-box 1.11 (removed in 1.13).</summary>
    public const string DomainStrategyReplacement =
        "removed from inbounds in sing-box 1.11: put {\"inbound\": \"TAG\", \"action\": \"resolve\", \"strategy\": …} in route.rules after the sniff rule, or run `sluice check --fix -o new.json`";

    /// <summary>The inbound fields sing-box 1.11 moved to route rule actions (every inbound type had them).</summary>
    public static readonly string[] InboundRuleFields = ["sniff", "sniff_override_destination", "sniff_timeout", "domain_strategy"];

    public static string InboundRuleFieldReplacement(string field) => field == "domain_strategy" ? DomainStrategyReplacement : SniffReplacement;

    public static void RefuseRemovedTunFields(ObjectReader r)
    {
        foreach (string field in InboundRuleFields)
        {
            if (r.Take(field) is null) continue;
            r.Errors.Add(r.PathOf(field), InboundRuleFieldReplacement(field));
        }
        foreach (string field in new[] { "inet4_address", "inet6_address", "inet4_route_address", "inet6_route_address", "inet4_route_exclude_address", "inet6_route_exclude_address" })
        {
            if (r.Take(field) is null) continue;
            string merged = field.Replace("inet4_", "", StringComparison.Ordinal).Replace("inet6_", "", StringComparison.Ordinal);
            r.Errors.Add(r.PathOf(field), $"merged into \"{merged}\" in sing-box 1.10 (IPv4 and IPv6 prefixes in one list): move the prefixes there, or run `sluice check --fix -o new.json`");
        }
    }
}
