using Sluice.Core.Configuration;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Sluice.Core.Outbounds.WireGuard;
using Sluice.Core.Subscriptions;
using YamlDotNet.RepresentationModel;

namespace Sluice.Core.Importing;

/// <summary>
/// A whole Clash/mihomo config to a Sluice config, for `sluice import config.yaml`: besides the proxies,
/// 1. proxy-groups: select → selector, url-test → urltest, fallback → fallback (url, interval, tolerance kept),
///    load-balance → urltest (noted); members DIRECT → direct, REJECT → block; a member that was not imported is
///    left out (noted), and a group left empty is dropped (noted);
/// 2. rules: DOMAIN, DOMAIN-SUFFIX, DOMAIN-KEYWORD, DOMAIN-REGEX, IP-CIDR(6), SRC-IP-CIDR, DST-PORT, SRC-PORT,
///    PROCESS-NAME, PROCESS-PATH, NETWORK, GEOIP (LAN → ip_is_private), GEOSITE (both as SagerNet's remote rule
///    sets), RULE-SET (its rule provider as a rule set: ClashYaml.RuleProviders.cs), AND/OR/NOT in order;
///    target DIRECT → direct, REJECT → the reject action; MATCH → route.final;
/// 3. sniffer.enable: true → a sniff action before the rules;
/// 4. mixed-port (else port / socks-port) → a mixed inbound on 127.0.0.1 beside the TUN;
/// 5. dns (enable: true), hosts and tun.dns-hijack → the dns section and hijack-dns rules (ClashYaml.Dns.cs);
/// 6. proxy-providers a group uses (use, include-all-providers, include-all) → subscriptions feeding it (http) or
///    servers read at import (file, inline), after its own proxies, each through the provider's and the group's filters
///    (ClashYaml.ProxyProviders.cs, ClashYaml.NameFilter.cs); ipv6: false → no AAAA, no IPv6 dialed or carried (ClashYaml.Ipv6.cs);
/// 7. log-level, mode (with rules giving global/direct mihomo's meaning), external-controller, secret, CORS and
///    profile → log, experimental.clash_api and cache_file (ClashYaml.General.cs).
/// Nothing is dropped silently: every rule, group or member not carried over is one note naming its line.
/// </summary>
public static partial class ClashYaml
{
    public sealed record ConfigResult(string Json, IReadOnlyList<string> Notes);

    public static ConfigResult ParseConfig(string text, string source)
    {
        var root = LoadRoot(text, source);
        var proxies = ParseProxies(root, source, withGroups: true);
        ApplyGlobalFingerprint(root, proxies.Outbounds);
        var notes = new List<string>(proxies.Notes);
        var known = new Dictionary<string, string>(StringComparer.Ordinal) { ["DIRECT"] = "direct", ["REJECT"] = "block", ["REJECT-DROP"] = "block" };
        foreach (var o in proxies.Outbounds) known.TryAdd((string)o["tag"]!, (string)o["tag"]!);

        // A file or inline provider's servers are read now and become outbounds beside the proxies (renamed when a
        // proxy or a group has their name).
        var taken = new HashSet<string>(known.Values, StringComparer.Ordinal);
        taken.UnionWith(GroupNames(root));
        var providers = ReadProxyProviders(root, source, taken, notes);
        var provided = providers.Values.SelectMany(p => p.Servers ?? []).ToList();
        ApplyGlobalFingerprint(root, provided);
        foreach (var o in provided) known.TryAdd((string)o["tag"]!, (string)o["tag"]!);
        var subscriptions = new List<JsonObject>();
        var groups = ConvertGroups(root, source, known, [.. proxies.Outbounds, .. provided], providers, subscriptions, notes);
        var outbounds = new JsonArray(new JsonObject { ["type"] = "direct", ["tag"] = "direct" });
        var endpoints = new JsonArray();
        foreach (var o in proxies.Outbounds.Concat(provided)) (SubscriptionBody.IsEndpoint(o) ? endpoints : outbounds).Add(o.DeepClone());
        // The group of every imported proxy, as for a plain subscription, unless the config has its own "proxy"; with no
        // proxies of its own (all from proxy-providers) the group of the imported groups.
        if (!known.ContainsKey("proxy"))
        {
            var members = (proxies.Outbounds.Count > 0 ? proxies.Outbounds : groups).Select(o => (JsonNode)JsonValue.Create((string)o["tag"]!)).ToArray();
            if (members.Length == 0)
                throw new ImportException(notes.Count > 0 ? $"no usable proxy; first: {notes[0]}" : $"{source}: no proxies and no group fed by a proxy provider");
            outbounds.Add((JsonNode)new JsonObject { ["type"] = "selector", ["tag"] = "proxy", ["outbounds"] = new JsonArray(members) });
        }
        foreach (var g in groups) outbounds.Add((JsonNode)g);

        var ruleSets = ConvertRuleProviders(root, source, known, notes);
        var listener = Listener(root);
        if (listener is { } l) ruleSets.InboundPorts[l.Port] = $"{l.Type}-in";
        string? final = null;
        var rules = ConvertRules(root, source, known, ruleSets, ref final, notes);
        var general = ConvertGeneral(root, source, final ?? "proxy", notes);
        rules.InsertRange(0, general.ModeRules);
        var dns = ConvertDns(root, source, known, ruleSets, notes);
        if (WithoutIpv6(root, outbounds) is { } refuseIpv6) rules.Insert(0, refuseIpv6);
        if (dns is not null) rules.InsertRange(0, dns.HijackRules);
        // mihomo's sniffer (off unless enabled) reads the domain from TLS/HTTP for the domain rules: a sniff rule first.
        if (root.Children.TryGetValue(new YamlScalarNode("sniffer"), out var sniffer) && sniffer is YamlMappingNode snifferMap && IsTrue(Scalar(snifferMap, "enable")))
            rules.Insert(0, new JsonObject { ["action"] = "sniff" });
        if (rules.Any(r => (string?)r["outbound"] == "block") || groups.Any(g => g["outbounds"] is JsonArray members && members.Any(m => (string?)m == "block")))
            outbounds.Add((JsonNode)new JsonObject { ["type"] = "block", ["tag"] = "block" });

        var route = new JsonObject { ["rules"] = new JsonArray(rules.ToArray<JsonNode>()), ["final"] = final ?? "proxy" };
        var usedSets = new JsonArray(ruleSets.Providers.Where(p => ruleSets.Used.Contains(p.Key)).Select(p => (JsonNode)p.Value).ToArray());
        foreach (string tag in ruleSets.Geo.Where(t => !ruleSets.Providers.ContainsKey(t)))
        {
            usedSets.Add((JsonNode)GeoRuleSet(tag));
        }
        if (usedSets.Count > 0) route["rule_set"] = usedSets;
        // mihomo's interface-name / routing-mark: the device and the mark of its own outgoing sockets, which is what
        // route.default_interface and route.default_mark are (mark 0 is mihomo's "none").
        if (dns?.DefaultResolver is { } resolver) route["default_domain_resolver"] = resolver;
        if (Scalar(root, "interface-name") is { Length: > 0 } device) route["default_interface"] = device;
        if (Scalar(root, "routing-mark") is { } markText && uint.TryParse(markText, NumberStyles.None, CultureInfo.InvariantCulture, out uint mark) && mark != 0)
            route["default_mark"] = mark;
        var inbounds = new JsonArray(new JsonObject
        {
            ["type"] = "tun", ["tag"] = "tun-in", ["address"] = new JsonArray("172.19.0.1/30", "fdfe:dcba:9876::1/126"), ["auto_route"] = true,
        });
        if (listener is { } inbound)
        {
            inbounds.Add((JsonNode)new JsonObject { ["type"] = inbound.Type, ["tag"] = $"{inbound.Type}-in", ["listen"] = "127.0.0.1", ["listen_port"] = inbound.Port });
            if (IsTrue(Scalar(root, "allow-lan"))) notes.Add($"{source}: allow-lan: true not carried over: the {inbound.Key} inbound listens on 127.0.0.1 (set \"listen\" and \"users\" to offer it to the network)");
        }
        var config = new JsonObject
        {
            ["log"] = general.Log,
            ["inbounds"] = inbounds,
            ["outbounds"] = outbounds,
            ["route"] = route,
        };
        if (endpoints.Count > 0) config["endpoints"] = endpoints;
        if (dns is not null) config["dns"] = dns.Dns;
        if (general.Experimental is not null) config["experimental"] = general.Experimental;
        if (subscriptions.Count > 0) config["subscriptions"] = new JsonArray(subscriptions.ToArray<JsonNode>());
        return new ConfigResult(config.ToJsonString(ConfigJson.Readable) + "\n", notes);
    }

    /// <summary>The one proxy listener the import makes: mixed-port, else port (http), else socks-port.</summary>
    private static (string Key, string Type, int Port)? Listener(YamlMappingNode root)
    {
        foreach (string key in new[] { "mixed-port", "port", "socks-port" })
        {
            if (Scalar(root, key) is not { } portText || !int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535) continue;
            return (key, key == "port" ? "http" : key == "socks-port" ? "socks" : "mixed", port);
        }
        return null;
    }

    private static List<JsonObject> ConvertGroups(YamlMappingNode root, string source, Dictionary<string, string> known, IReadOnlyList<JsonObject> proxies,
        Dictionary<string, ProxyProvider> providers, List<JsonObject> subscriptions, List<string> notes)
    {
        var groups = new List<(JsonObject Group, YamlNode Node, List<(string Name, long Line)> Members, bool Fed)>();
        var relays = new List<(string Name, YamlMappingNode Entry, string Where)>();
        if (!root.Children.TryGetValue(new YamlScalarNode("proxy-groups"), out var node) || node is not YamlSequenceNode list) return [];
        // include-all-providers takes every provider the profile defines, in name order (mihomo sorts them).
        var allProviders = root.Children.TryGetValue(new YamlScalarNode("proxy-providers"), out var p) && p is YamlMappingNode map
            ? map.Children.Keys.OfType<YamlScalarNode>().Select(k => k.Value ?? "").Order(StringComparer.Ordinal).ToList() : [];
        var types = proxies.ToDictionary(o => (string)o["tag"]!, o => (string)o["type"]!, StringComparer.Ordinal);
        foreach (var item in list)
        {
            string where = $"{source}: line {item.Start.Line}";
            if (item is not YamlMappingNode entry || Scalar(entry, "name") is not { } name)
            {
                notes.Add($"{where}: a proxy group without a name skipped");
                continue;
            }
            string clashType = Scalar(entry, "type") ?? "";
            if (clashType == "relay")
            {
                // Chains are built once every group name is known (the first hop may be a group).
                relays.Add((name, entry, where));
                known[name] = name;
                continue;
            }
            string? type = clashType switch { "select" => "selector", "url-test" or "load-balance" => "urltest", "fallback" => "fallback", _ => null };
            if (type is null)
            {
                notes.Add($"{where}: group \"{name}\" skipped: type \"{clashType}\" is not imported (select, url-test, fallback, load-balance)");
                continue;
            }
            if (clashType == "load-balance") notes.Add($"{where}: group \"{name}\" is load-balance, imported as url-test (Sluice has no load balancing)");
            var group = new JsonObject { ["type"] = type, ["tag"] = name };
            if (type != "selector")
            {
                if (Scalar(entry, "url") is { Length: > 0 } url) group["url"] = url;
                if (Scalar(entry, "interval") is { } interval && int.TryParse(interval, NumberStyles.None, CultureInfo.InvariantCulture, out int seconds) && seconds > 0)
                    group["interval"] = $"{seconds}s";
                if (type == "urltest" && Scalar(entry, "tolerance") is { } tolerance && int.TryParse(tolerance, NumberStyles.None, CultureInfo.InvariantCulture, out int ms))
                    group["tolerance"] = Math.Min(ms, 60_000);
            }
            var members = new List<(string, long)>();
            if (entry.Children.TryGetValue(new YamlScalarNode("proxies"), out var m) && m is YamlSequenceNode memberList)
                foreach (var member in memberList.OfType<YamlScalarNode>())
                    if (member.Value is { } value) members.Add((value, member.Start.Line));
            if (IncludedProxies(entry, name, where, proxies, notes) is { } included)
                members.AddRange(included.Select(tag => (tag, entry.Start.Line)));
            var provided = FeedFromProviders(entry, name, where, providers, allProviders, subscriptions, notes);
            members.AddRange(provided.Members.Select(tag => (tag, entry.Start.Line)));
            // mihomo's exclude-filter and exclude-type leave out any member, its own proxies too.
            var exclude = NameFilter.TryRead(entry, out var filter, out _) ? (filter with { Keep = [] }).Compile() : ServerFilter.None;
            members.RemoveAll(m => exclude.Excludes(m.Item1, types.GetValueOrDefault(m.Item1, "")));
            known[name] = name; // groups may name groups listed after them
            groups.Add((group, entry, members, provided.Fed));
        }
        var result = ConvertRelays(relays, known, proxies, notes);
        // Members resolved once every group is known; a group left empty is dropped, and so are members naming it.
        bool dropped = true;
        while (dropped)
        {
            dropped = false;
            foreach (var (group, entry, members, fed) in groups)
            {
                if (fed || !known.ContainsKey((string)group["tag"]!)) continue;
                var names = new JsonArray();
                foreach (var (member, line) in members)
                {
                    if (member == "PASS" || !known.TryGetValue(member, out var tag)) continue;
                    if (!names.Any(n => (string?)n == tag)) names.Add((JsonNode)tag);
                }
                if (names.Count > 0) continue;
                known.Remove((string)group["tag"]!);
                notes.Add($"{source}: line {entry.Start.Line}: group \"{group["tag"]}\" skipped: none of its members was imported");
                dropped = true;
            }
        }
        foreach (var (group, _, members, _) in groups)
        {
            string tag = (string)group["tag"]!;
            if (!known.ContainsKey(tag)) continue;
            var names = new JsonArray();
            foreach (var (member, line) in members)
            {
                if (member != "PASS" && known.TryGetValue(member, out var target))
                {
                    if (!names.Any(n => (string?)n == target)) names.Add((JsonNode)target);
                }
                else
                {
                    notes.Add($"{source}: line {line}: group \"{tag}\": member \"{member}\" left out (not imported)");
                }
            }
            group["outbounds"] = names;
            result.Add(group);
        }
        return result;
    }
}
