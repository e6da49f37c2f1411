using System.Text.Json.Nodes;

namespace Sluice.Core.Configuration;

/// <summary>
/// `sluice check --fix` for the legacy DNS server fields that became rule fields in sing-box 1.12 (its migration guide):
/// 1. an {"address": "rcode://refused"} server → each rule that named it answers itself ({"action": "predefined",
///    "rcode": "REFUSED"}), and the server is removed;
/// 2. a legacy server's "strategy" → the "strategy" of each rule that names it (unless the rule has its own), and
///    dns.strategy when the server is dns.final (or, without one, the first server).
/// </summary>
internal static class LegacyDnsServers
{
    private static readonly Dictionary<string, string> Rcodes = new(StringComparer.Ordinal)
    {
        ["success"] = "NOERROR", ["format_error"] = "FORMERR", ["server_failure"] = "SERVFAIL",
        ["name_error"] = "NXDOMAIN", ["not_implemented"] = "NOTIMP", ["refused"] = "REFUSED",
    };

    public static void Migrate(JsonObject dns, List<string> changes)
    {
        if (dns["servers"] is not JsonArray servers) return;
        var rules = (dns["rules"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
        for (int i = servers.Count - 1; i >= 0; i--)
        {
            if (servers[i] is not JsonObject server || server["type"] is not null || server["address"] is not JsonValue address
                || !address.TryGetValue(out string? text) || !text.StartsWith("rcode://", StringComparison.Ordinal)
                || !Rcodes.TryGetValue(text["rcode://".Length..], out var rcode))
                continue;
            string? tag = server["tag"]?.GetValue<string>();
            foreach (var rule in rules.Where(r => tag is not null && r["server"]?.GetValue<string>() == tag))
            {
                rule.Remove("server");
                rule.Remove("strategy");
                rule["action"] = "predefined";
                rule["rcode"] = rcode;
            }
            servers.RemoveAt(i);
            changes.Add($"dns.servers[{i}]: \"address\": \"{text}\" removed; the rules that named it answer {rcode} themselves (\"action\": \"predefined\")");
        }
        string? final = dns["final"]?.GetValue<string>();
        for (int i = 0; i < servers.Count; i++)
        {
            if (servers[i] is not JsonObject server || server["type"] is not null || server["strategy"] is not JsonNode strategy) continue;
            string? tag = server["tag"]?.GetValue<string>();
            foreach (var rule in rules.Where(r => tag is not null && r["server"]?.GetValue<string>() == tag && r["strategy"] is null))
                rule["strategy"] = strategy.DeepClone();
            bool toDefault = dns["strategy"] is null && (final is null ? i == 0 : final == tag);
            if (toDefault) dns["strategy"] = strategy.DeepClone();
            server.Remove("strategy");
            changes.Add($"dns.servers[{i}].strategy: moved to the rules that name the server{(toDefault ? ", and to dns.strategy (it is the default server)" : "")}");
        }
    }
}
