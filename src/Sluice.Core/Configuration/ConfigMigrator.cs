using System.Text.Json;
using System.Text.Json.Nodes;

namespace Sluice.Core.Configuration;

/// <summary>
/// `sluice check --fix`: rewrites what sing-box removed into its replacement, so an older config runs:
/// 1. tun inet4_/inet6_address and inet4_/inet6_route(_exclude)_address merged into address / route_address / route_exclude_address;
/// 2. inbound sniff / sniff_override_destination / sniff_timeout → a {"inbound": TAG, "action": "sniff"} rule first in route.rules,
///    and an inbound domain_strategy → {"inbound": TAG, "action": "resolve", "strategy": S} after the sniff rules;
/// 3. route and DNS rule geosite / geoip / source_geoip → rule_set (+ remote binary sets from SagerNet's lists); rule_set_ipcidr_match_source renamed;
/// 4. legacy DNS servers {"address": "tls://1.1.1.1"} → {"type": "tls", "server": "1.1.1.1"} (udp, tcp, tls, https, local);
///    {"address": "fakeip"} → {"type": "fakeip"} with dns.fakeip's ranges (dns.fakeip then removed); rcode:// servers and
///    servers' strategy → rule fields (LegacyDnsServers);
/// 5. "dns" outbounds dropped, and rules that routed to one become {"action": "hijack-dns"};
/// 6. "wireguard" outbounds (before sing-box 1.11) moved to "endpoints": local_address → address, server /
///    server_port / peer_public_key / pre_shared_key → one peer with allowed_ips everything (or each of "peers");
/// 7. DNS rules that only pick the server for outbounds' own lookups ({"outbound": "any", "server": S}) become
///    route.default_domain_resolver = S (a named outbound: that outbound's domain_resolver).
/// Each change is described in one line.
/// </summary>
public static class ConfigMigrator
{
    public static (string Json, IReadOnlyList<string> Changes) Migrate(string json)
    {
        var root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }) as JsonObject
            ?? throw new JsonException("the config is not a JSON object");
        var changes = new List<string>();
        var sniffRules = new List<JsonNode>();
        var resolveRules = new List<JsonNode>();
        if (root["inbounds"] is JsonArray inbounds)
        {
            for (int i = 0; i < inbounds.Count; i++)
            {
                if (inbounds[i] is not JsonObject inbound) continue;
                foreach (var (old, merged) in new[] { ("inet4_address", "address"), ("inet6_address", "address"), ("inet4_route_address", "route_address"),
                             ("inet6_route_address", "route_address"), ("inet4_route_exclude_address", "route_exclude_address"), ("inet6_route_exclude_address", "route_exclude_address") })
                {
                    if (inbound[old] is not { } value) continue;
                    var target = inbound[merged] as JsonArray ?? (inbound[merged] is { } single ? new JsonArray(single.DeepClone()) : new JsonArray());
                    foreach (var item in value is JsonArray a ? a.ToArray() : [value]) target.Add(item?.DeepClone());
                    inbound.Remove(old);
                    inbound[merged] = target;
                    changes.Add($"inbounds[{i}].{old}: merged into {merged}");
                }
                if (inbound["sniff"] is JsonValue sniff && sniff.TryGetValue(out bool on))
                {
                    string tag = inbound["tag"]?.GetValue<string>() ?? (inbound["type"]?.GetValue<string>() == "tun" ? ConfigDefaults.TunTag : inbound["type"]?.GetValue<string>() ?? "in");
                    inbound["tag"] ??= tag;
                    if (on) sniffRules.Add(new JsonObject { ["inbound"] = tag, ["action"] = "sniff" });
                    changes.Add($"inbounds[{i}].sniff: replaced by a route rule {{\"inbound\": \"{tag}\", \"action\": \"sniff\"}}");
                }
                if (inbound["domain_strategy"] is JsonValue strategyValue && strategyValue.TryGetValue(out string? strategy) && strategy is { Length: > 0 })
                {
                    // sing-box 1.11's migration: the inbound's strategy becomes a resolve action after its sniff rule.
                    string tag = inbound["tag"]?.GetValue<string>() ?? (inbound["type"]?.GetValue<string>() == "tun" ? ConfigDefaults.TunTag : inbound["type"]?.GetValue<string>() ?? "in");
                    inbound["tag"] ??= tag;
                    resolveRules.Add(new JsonObject { ["inbound"] = tag, ["action"] = "resolve", ["strategy"] = strategy });
                    changes.Add($"inbounds[{i}].domain_strategy: replaced by a route rule {{\"inbound\": \"{tag}\", \"action\": \"resolve\", \"strategy\": \"{strategy}\"}}");
                }
                foreach (string field in Migration.InboundRuleFields)
                    inbound.Remove(field);
            }
        }
        var dnsOutbounds = new HashSet<string>(StringComparer.Ordinal);
        if (root["outbounds"] is JsonArray outbounds)
        {
            foreach (var outbound in outbounds.OfType<JsonObject>().Where(o => o["type"]?.GetValue<string>() == "dns").ToArray())
            {
                dnsOutbounds.Add(outbound["tag"]?.GetValue<string>() ?? "dns");
                outbounds.Remove(outbound);
                changes.Add($"outbounds: the dns outbound \"{outbound["tag"]}\" is replaced by {{\"action\": \"hijack-dns\"}} in the rules that used it");
            }
        }
        if (root["outbounds"] is JsonArray all)
            MigrateWireGuardOutbounds(root, all, changes);
        var route = root["route"] as JsonObject;
        if (root["dns"] is JsonObject dnsSection && dnsSection["rules"] is JsonArray lookupRules)
            route = MigrateOutboundLookupRules(root, route, lookupRules, changes);
        var sets = new SortedSet<string>(StringComparer.Ordinal);
        if (route?["rules"] is JsonArray routeRules) MigrateRules(routeRules, "route.rules", sets, dnsOutbounds, changes);
        foreach (string database in new[] { "geoip", "geosite" })
        {
            // The database's own options (path, download_url): its rules were turned into rule sets above.
            if (route?.Remove(database) == true) changes.Add($"route.{database}: removed (sing-box 1.12 has no {database} database; its rules use rule sets)");
        }
        if (root["dns"] is JsonObject dns)
        {
            if (dns["rules"] is JsonArray dnsRules) MigrateRules(dnsRules, "dns.rules", sets, dnsOutbounds, changes);
            LegacyDnsServers.Migrate(dns, changes);
            if (dns["servers"] is JsonArray servers)
                for (int i = 0; i < servers.Count; i++)
                    if (servers[i] is JsonObject server && server["type"] is null && server["address"]?.GetValue<string>() is { } address
                        && MigrateServer(server, address, dns["fakeip"] as JsonObject))
                        changes.Add($"dns.servers[{i}]: \"address\": \"{address}\" written as {server.ToJsonString()}");
            if (dns["fakeip"] is not null && dns["servers"] is JsonArray migrated && migrated.OfType<JsonObject>().Any(s => s["type"]?.GetValue<string>() == "fakeip"))
            {
                // Its ranges now live in the fakeip server (the server's own fields since sing-box 1.12).
                dns.Remove("fakeip");
                changes.Add("dns.fakeip: removed (its inet4_range/inet6_range moved into the fakeip server)");
            }
        }
        if (root["experimental"] is JsonObject experimental) MigrateClashApiCache(experimental, changes);
        if (sniffRules.Count > 0 || resolveRules.Count > 0 || sets.Count > 0)
        {
            route ??= (JsonObject)(root["route"] = new JsonObject());
            var rules = route["rules"] as JsonArray ?? (JsonArray)(route["rules"] = new JsonArray());
            // Sniff first, then resolve (the sniffed name is what a resolve looks up), then the config's own rules.
            var first = sniffRules.Concat(resolveRules).ToList();
            for (int i = first.Count - 1; i >= 0; i--) rules.Insert(0, first[i]);
            var definitions = route["rule_set"] as JsonArray ?? (JsonArray)(route["rule_set"] = new JsonArray());
            var defined = definitions.OfType<JsonObject>().Select(d => d["tag"]?.GetValue<string>()).ToHashSet();
            foreach (string tag in sets.Where(t => !defined.Contains(t)))
            {
                string kind = tag.StartsWith("geoip-", StringComparison.Ordinal) ? "geoip" : "geosite";
                definitions.Add((JsonNode)new JsonObject { ["type"] = "remote", ["tag"] = tag, ["format"] = "binary",
                    ["url"] = $"https://raw.githubusercontent.com/SagerNet/sing-{kind}/rule-set/{tag}.srs" });
                changes.Add($"route.rule_set: added the remote set \"{tag}\"");
            }
        }
        return (root.ToJsonString(ConfigJson.Readable) + "\n", changes);
    }

    /// <summary>experimental.clash_api's cache fields before sing-box 1.8, which moved them to experimental.cache_file.</summary>
    internal static readonly string[] LegacyClashApiCacheFields = ["store_mode", "store_selected", "store_fakeip", "cache_file", "cache_id"];

    internal static string LegacyCacheFieldTarget(string field) => field switch
    {
        "cache_file" => "its path",
        "cache_id" => "cache_id",
        "store_fakeip" => "enabled and store_fakeip",
        _ => "enabled: the cache file keeps the mode and each selector's pick",
    };

    /// <summary>
    /// clash_api.store_mode/store_selected/store_fakeip/cache_file/cache_id → experimental.cache_file (enabled when a
    /// store_* was on, path, cache_id, store_fakeip), as sing-box 1.8's migration guide has it; fields set in
    /// cache_file already win.
    /// </summary>
    private static void MigrateClashApiCache(JsonObject experimental, List<string> changes)
    {
        if (experimental["clash_api"] is not JsonObject api) return;
        JsonObject? cache = null;
        foreach (string field in LegacyClashApiCacheFields)
        {
            if (api[field] is not JsonValue value) continue;
            api.Remove(field);
            cache ??= experimental["cache_file"] as JsonObject ?? (JsonObject)(experimental["cache_file"] = new JsonObject());
            bool on = value.TryGetValue(out bool b) ? b : value.TryGetValue(out string? text) && text is { Length: > 0 };
            if (on && field.StartsWith("store_", StringComparison.Ordinal)) cache["enabled"] ??= true;
            string? target = field switch { "cache_file" => "path", "cache_id" => "cache_id", "store_fakeip" => "store_fakeip", _ => null };
            if (target is not null && on) cache[target] ??= value.DeepClone();
            changes.Add($"experimental.clash_api.{field}: moved to experimental.cache_file ({LegacyCacheFieldTarget(field)})");
        }
    }

    private static void MigrateRules(JsonArray rules, string path, SortedSet<string> sets, HashSet<string> dnsOutbounds, List<string> changes)
    {
        for (int i = 0; i < rules.Count; i++)
        {
            if (rules[i] is not JsonObject rule) continue;
            string at = $"{path}[{i}]";
            if (rule["rules"] is JsonArray nested) MigrateRules(nested, at + ".rules", sets, dnsOutbounds, changes);
            var tags = new List<string>();
            foreach (var (field, kind) in new[] { ("geosite", "geosite"), ("geoip", "geoip"), ("source_geoip", "geoip") })
            {
                if (rule[field] is not { } value) continue;
                foreach (var item in value is JsonArray a ? a.ToArray() : [value])
                    if (item?.GetValue<string>() is { } code) tags.Add($"{kind}-{code}");
                if (field == "source_geoip") rule["rule_set_ip_cidr_match_source"] = true;
                rule.Remove(field);
                changes.Add($"{at}.{field}: replaced by rule_set");
            }
            if (tags.Count > 0)
            {
                var list = rule["rule_set"] as JsonArray ?? (rule["rule_set"] is { } one ? new JsonArray(one.DeepClone()) : new JsonArray());
                foreach (string tag in tags)
                {
                    list.Add((JsonNode)tag);
                    sets.Add(tag);
                }
                rule["rule_set"] = list;
            }
            if (rule["rule_set_ipcidr_match_source"] is { } old)
            {
                rule.Remove("rule_set_ipcidr_match_source");
                rule["rule_set_ip_cidr_match_source"] = old.DeepClone();
                changes.Add($"{at}.rule_set_ipcidr_match_source: renamed rule_set_ip_cidr_match_source");
            }
            if (rule["outbound"]?.GetValue<string>() is { } target && dnsOutbounds.Contains(target))
            {
                rule.Remove("outbound");
                rule["action"] = "hijack-dns";
                changes.Add($"{at}: routed to the dns outbound, now {{\"action\": \"hijack-dns\"}}");
            }
        }
    }

    private static void MigrateWireGuardOutbounds(JsonObject root, JsonArray outbounds, List<string> changes)
    {
        foreach (var outbound in outbounds.OfType<JsonObject>().Where(o => o["type"]?.GetValue<string>() == "wireguard").ToArray())
        {
            string tag = outbound["tag"]?.GetValue<string>() ?? "wireguard";
            var endpoint = new JsonObject { ["type"] = "wireguard", ["tag"] = tag };
            if (outbound["local_address"] is { } address) endpoint["address"] = address is JsonArray ? address.DeepClone() : new JsonArray(address.DeepClone());
            foreach (string field in new[] { "private_key", "mtu", "detour" })
                if (outbound[field] is { } value) endpoint[field] = value.DeepClone();
            var peers = new JsonArray();
            if (outbound["peers"] is JsonArray many)
            {
                foreach (var old in many.OfType<JsonObject>()) peers.Add((JsonNode)Peer(old, old["public_key"], old["allowed_ips"]));
            }
            else
            {
                peers.Add((JsonNode)Peer(outbound, outbound["peer_public_key"], null));
            }
            endpoint["peers"] = peers;
            outbounds.Remove(outbound);
            var endpoints = root["endpoints"] as JsonArray ?? (JsonArray)(root["endpoints"] = new JsonArray());
            endpoints.Add((JsonNode)endpoint);
            changes.Add($"outbounds: the wireguard outbound \"{tag}\" moved to endpoints (local_address → address, the server → peers[].address/port)");
        }

        static JsonObject Peer(JsonObject old, JsonNode? publicKey, JsonNode? allowed)
        {
            var peer = new JsonObject();
            if (old["server"] is { } server) peer["address"] = server.DeepClone();
            if (old["server_port"] is { } port) peer["port"] = port.DeepClone();
            if (publicKey is not null) peer["public_key"] = publicKey.DeepClone();
            if (old["pre_shared_key"] is { } psk) peer["pre_shared_key"] = psk.DeepClone();
            peer["allowed_ips"] = allowed?.DeepClone() ?? new JsonArray("0.0.0.0/0", "::/0");
            if (old["reserved"] is { } reserved) peer["reserved"] = reserved.DeepClone();
            return peer;
        }
    }

    private static JsonObject? MigrateOutboundLookupRules(JsonObject root, JsonObject? route, JsonArray rules, List<string> changes)
    {
        for (int i = rules.Count - 1; i >= 0; i--)
        {
            // Only a rule that matches nothing but the outbound: with other conditions, dropping the outbound would widen it.
            if (rules[i] is not JsonObject rule || rule["outbound"] is not { } target || rule["server"]?.GetValue<string>() is not { } server
                || rule.Any(p => p.Key is not ("outbound" or "server" or "action")) || (rule["action"] is { } action && action.GetValue<string>() != "route"))
                continue;
            var names = target is JsonArray list ? list.Select(n => n?.GetValue<string>()).ToList() : [target.GetValue<string>()];
            foreach (string? name in names)
            {
                if (name == "any")
                {
                    route ??= (JsonObject)(root["route"] = new JsonObject());
                    if (route["default_domain_resolver"] is null) route["default_domain_resolver"] = server;
                }
                else if (root["outbounds"] is JsonArray outbounds
                         && outbounds.OfType<JsonObject>().FirstOrDefault(o => o["tag"]?.GetValue<string>() == name) is { } outbound
                         && outbound["domain_resolver"] is null)
                {
                    outbound["domain_resolver"] = server;
                }
            }
            rules.RemoveAt(i);
            changes.Add($"dns.rules[{i}]: {{\"outbound\": {target.ToJsonString()}}} → server \"{server}\" as the domain_resolver of "
                + (names.Contains("any") ? "route (default_domain_resolver)" : string.Join(", ", names)));
        }
        return route;
    }

    /// <param name="fakeIp">The legacy dns.fakeip object ({"enabled", "inet4_range", "inet6_range"}), whose ranges a fakeip server takes.</param>
    private static bool MigrateServer(JsonObject server, string address, JsonObject? fakeIp)
    {
        if (address == "fakeip")
        {
            // Not a host named "fakeip": the legacy fake-IP server, whose ranges were in dns.fakeip.
            server.Remove("address");
            server["type"] = "fakeip";
            foreach (string range in new[] { "inet4_range", "inet6_range" })
                if (fakeIp?[range] is { } value) server[range] = value.DeepClone();
            return true;
        }
        string? type = null, host = address;
        if (address == "local") type = "local";
        else if (address.StartsWith("https://", StringComparison.Ordinal)) type = "https";
        else if (address.StartsWith("tls://", StringComparison.Ordinal)) type = "tls";
        else if (address.StartsWith("tcp://", StringComparison.Ordinal)) type = "tcp";
        else if (address.StartsWith("udp://", StringComparison.Ordinal)) type = "udp";
        else if (!address.Contains("://", StringComparison.Ordinal)) type = "udp";
        if (type is null) return false;
        server.Remove("address");
        server["type"] = type;
        if (type == "local")
        {
            server.Remove("detour"); // the host's own resolver: the old idiom {"address": "local", "detour": "direct"} meant no detour
            return true;
        }
        if (address.Contains("://", StringComparison.Ordinal)) host = address[(address.IndexOf("://", StringComparison.Ordinal) + 3)..];
        if (type == "https")
        {
            int slash = host.IndexOf('/');
            if (slash >= 0 && host[slash..] != "/dns-query") server["path"] = host[slash..];
            if (slash >= 0) host = host[..slash];
        }
        int colon = host.LastIndexOf(':');
        if (colon > 0 && host.IndexOf(']') < colon && ushort.TryParse(host[(colon + 1)..], out ushort port) && host.Count(c => c == ':') == 1)
        {
            server["server_port"] = port;
            host = host[..colon];
        }
        server["server"] = host.Trim('[', ']');
        if (server["address_resolver"] is { } resolver)
        {
            server.Remove("address_resolver");
            server["domain_resolver"] = resolver.DeepClone();
        }
        if (server["address_strategy"] is not null) server.Remove("address_strategy");
        return true;
    }
}
