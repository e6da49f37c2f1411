using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Sluice.Core.Outbounds.WireGuard;
using Sluice.Core.RuleSets;
using YamlDotNet.RepresentationModel;

namespace Sluice.Core.Importing;

/// <summary>
/// A mihomo config's <c>dns:</c> (with <c>enable: true</c>), <c>hosts:</c> and <c>tun.dns-hijack</c> as Sluice's DNS:
/// 1. nameserver → the final server (the first entry: mihomo races them, Sluice asks one); "system"/"dhcp://" → local;
///    udp (bare address), tcp://, tls://, https:// with a port and path; a "#NAME" suffix → the server's detour;
///    default-nameserver → the domain_resolver of servers given by name; proxy-server-nameserver →
///    route.default_domain_resolver; ipv6 not true (or the top-level ipv6 false) → strategy ipv4_only (ClashYaml.Ipv6.cs);
/// 2. hosts (names to addresses) → a hosts server asked first for those names;
/// 3. nameserver-policy → DNS rules, in order (geosite:X and rule-set:X patterns as rule sets);
/// 4. enhanced-mode: fake-ip → a fakeip server (fake-ip-range) for A/AAAA, fake-ip-filter's names excluded
///    (fake-ip-filter-mode: whitelist: only they);
/// 5. tun.dns-hijack (any:53, or an address:53) → hijack-dns route rules.
/// Parts Sluice cannot carry (fallback and its filter, listen, a quic:// server, a detour that is not imported) are
/// notes naming the key: without them the import would answer names another way than the profile says.
/// </summary>
public static partial class ClashYaml
{
    private sealed record DnsImport(JsonObject Dns, List<JsonObject> HijackRules, string? DefaultResolver);

    private static DnsImport? ConvertDns(YamlMappingNode root, string source, Dictionary<string, string> known, RuleSetNames ruleSets, List<string> notes)
    {
        if (!root.Children.TryGetValue(new YamlScalarNode("dns"), out var node) || node is not YamlMappingNode dns || !IsTrue(Scalar(dns, "enable")))
            return null;
        string where = $"{source}: line {dns.Start.Line}: dns";
        var servers = new JsonArray();
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        string? resolver = First(dns, "default-nameserver") is { } d ? Server(d, "default-nameserver", null) : null;
        string final = First(dns, "nameserver") is { } n ? Server(n, "nameserver", resolver) ?? "" : "";
        if (final.Length == 0)
        {
            notes.Add($"{where}: no usable nameserver; the dns section is not imported (the host's resolvers answer)");
            return null;
        }
        foreach (string key in new[] { "nameserver", "default-nameserver", "proxy-server-nameserver" })
            if (List(dns, key) is { Count: > 1 } more)
                notes.Add($"{where}.{key}: only the first server is asked (mihomo races all {more.Count}; Sluice asks one per query)");
        string? proxyResolver = First(dns, "proxy-server-nameserver") is { } p ? Server(p, "proxy-server-nameserver", resolver) : null;
        foreach (string key in new[] { "fallback", "fallback-filter", "listen" })
            if (dns.Children.ContainsKey(new YamlScalarNode(key)))
                notes.Add(key == "listen"
                    ? $"{where}.listen: not carried over (Sluice answers the queries the TUN hijacks; add a \"direct\" inbound for a DNS listener)"
                    : $"{where}.{key}: not carried over (Sluice asks one server per query; it does not race a fallback and pick by GeoIP)");

        var rules = new JsonArray();
        if (ConvertHosts(root, source, servers, notes) is { } hostsRule) rules.Add((JsonNode)hostsRule);
        var policy = new List<JsonObject>();
        if (dns.Children.TryGetValue(new YamlScalarNode("nameserver-policy"), out var policyNode) && policyNode is YamlMappingNode policyMap)
        {
            foreach (var (keyNode, valueNode) in policyMap.Children)
            {
                string key = (keyNode as YamlScalarNode)?.Value ?? "";
                string? server = valueNode switch
                {
                    YamlScalarNode one => one.Value,
                    YamlSequenceNode many => (many.Children.FirstOrDefault() as YamlScalarNode)?.Value,
                    _ => null,
                };
                string? tag = server is null ? null : Server(server, $"nameserver-policy \"{key}\"", resolver);
                if (tag is null) continue;
                if (DomainMatch(PolicyPatterns(key), ruleSets, out string? why) is not { } match)
                {
                    notes.Add($"{source}: line {keyNode.Start.Line}: nameserver-policy \"{key}\" skipped: {why}");
                    continue;
                }
                match["server"] = tag;
                policy.Add(match);
            }
        }
        bool fakeIp = Scalar(dns, "enhanced-mode") == "fake-ip";
        if (fakeIp)
        {
            var fake = new JsonObject { ["type"] = "fakeip", ["tag"] = "fakeip", ["inet4_range"] = Network(Scalar(dns, "fake-ip-range") ?? "198.18.0.1/16") };
            if (Scalar(dns, "fake-ip-range6") is { Length: > 0 } range6) fake["inet6_range"] = Network(range6);
            servers.Add((JsonNode)fake);
            var fakeRule = new JsonObject { ["query_type"] = new JsonArray("A", "AAAA"), ["server"] = "fakeip" };
            var filter = List(dns, "fake-ip-filter") ?? [];
            string? why = null;
            bool whitelist = Scalar(dns, "fake-ip-filter-mode") == "whitelist";
            if (filter.Count > 0 && DomainMatch(filter, ruleSets, out why) is { } names)
            {
                // blacklist (the default): the filter's names get real answers; whitelist: only they get fake ones.
                if (!whitelist) names["invert"] = true;
                fakeRule = new JsonObject
                {
                    ["type"] = "logical", ["mode"] = "and", ["rules"] = new JsonArray(new JsonObject { ["query_type"] = new JsonArray("A", "AAAA") }, names),
                    ["server"] = "fakeip",
                };
            }
            else if (filter.Count > 0)
            {
                notes.Add($"{where}.fake-ip-filter: not carried over ({why}); every name gets a fake address");
            }
            rules.Add((JsonNode)fakeRule);
        }
        foreach (var rule in policy) rules.Add((JsonNode)rule);

        var section = new JsonObject { ["servers"] = servers };
        if (rules.Count > 0) section["rules"] = rules;
        section["final"] = final;
        if (DnsWithoutAaaa(root, dns)) section["strategy"] = "ipv4_only";
        return new DnsImport(section, HijackRules(root), proxyResolver);

        // A server from one of mihomo's address forms; null (noted) when Sluice cannot ask it as the profile says.
        string? Server(string address, string key, string? domainResolver)
        {
            if (tags.TryGetValue(address, out var known0)) return known0;
            try
            {
                var server = DnsServerOf(address, known);
                server["tag"] = $"dns-{servers.Count + 1}";
                if (domainResolver is not null && (string?)server["server"] is { } host && !IPAddress.TryParse(host, out _))
                    server["domain_resolver"] = domainResolver;
                servers.Add((JsonNode)server);
                return tags[address] = (string)server["tag"]!;
            }
            catch (ImportException e)
            {
                notes.Add($"{where}.{key}: \"{address}\" not carried over: {e.Message}");
                return null;
            }
        }
    }

    /// <summary>"https://dns.example/dns-query#proxy" and the other forms mihomo reads, as a sing-box DNS server object.</summary>
    private static JsonObject DnsServerOf(string address, Dictionary<string, string> known)
    {
        string? detour = null;
        int hash = address.IndexOf('#');
        if (hash >= 0)
        {
            string suffix = address[(hash + 1)..];
            address = address[..hash];
            if (suffix.Contains('=')) throw new ImportException($"the parameters \"#{suffix}\" are not read by Sluice");
            if (suffix is not ("DIRECT" or "direct"))
                detour = known.TryGetValue(suffix, out var tag) ? tag : throw new ImportException($"its proxy \"{suffix}\" is not an imported proxy or group");
        }
        if (address is "system" or "system://" || address.StartsWith("dhcp://", StringComparison.Ordinal)) return new JsonObject { ["type"] = "local" };
        string type = "udp", rest = address;
        int scheme = address.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0)
        {
            type = address[..scheme];
            rest = address[(scheme + 3)..];
            if (type is not ("udp" or "tcp" or "tls" or "https"))
                throw new ImportException($"scheme {type}:// is not supported by Sluice (udp, tcp, tls, https, system, dhcp)");
        }
        string path = "";
        int slash = rest.IndexOf('/');
        if (slash >= 0)
        {
            path = rest[slash..];
            rest = rest[..slash];
        }
        var server = new JsonObject { ["type"] = type };
        var (host, port) = rest.LastIndexOf(':') is int c && c > 0 && rest[c - 1] != ':' && (!rest.StartsWith('[') || rest[c - 1] == ']')
            ? ShareLinks.ParseHostPort(address, rest)
            : (rest.Trim('[', ']'), 0);
        server["server"] = host;
        if (port != 0) server["server_port"] = port;
        if (type == "https" && path is not ("" or "/dns-query")) server["path"] = path;
        if (detour is not null) server["detour"] = detour;
        return server;
    }

    /// <summary>A nameserver-policy key: "+.a.com,b.com" is two patterns, "geosite:cn,private" two geosite lists.</summary>
    private static IEnumerable<string> PolicyPatterns(string key)
    {
        var parts = key.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        foreach (string prefix in new[] { "geosite:", "rule-set:" })
            if (key.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
                return parts.Select(p => p.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) ? p : prefix + p);
        return parts;
    }

    /// <summary>Clash domain patterns (+.x, *.x, x, geosite:X, rule-set:X) as one DNS rule's match; null with the reason.</summary>
    private static JsonObject? DomainMatch(IEnumerable<string> patterns, RuleSetNames ruleSets, out string? why)
    {
        var lines = new ClashRuleLines();
        var sets = new JsonArray();
        why = null;
        try
        {
            foreach (string pattern in patterns)
            {
                if (pattern.StartsWith("geosite:", StringComparison.OrdinalIgnoreCase))
                {
                    string tag = $"geosite-{pattern[8..].Trim().ToLowerInvariant()}";
                    ruleSets.Geo.Add(tag);
                    sets.Add((JsonNode)tag);
                }
                else if (pattern.StartsWith("rule-set:", StringComparison.OrdinalIgnoreCase))
                {
                    string name = pattern[9..];
                    if (!ruleSets.Providers.ContainsKey(name)) throw new RuleSetFormatException($"rule-set \"{name}\" is not an imported rule provider");
                    ruleSets.Used.Add(name);
                    sets.Add((JsonNode)name);
                }
                else
                {
                    lines.AddDomainPattern(pattern);
                }
            }
        }
        catch (RuleSetFormatException e)
        {
            why = e.Message;
            return null;
        }
        var match = new JsonObject();
        foreach (var rule in lines.Rules())
            foreach (var (key, value) in JsonNode.Parse(SourceRuleSetWriter.WriteRule(rule))!.AsObject())
                match[key] = value?.DeepClone();
        if (sets.Count > 0) match["rule_set"] = sets;
        return match;
    }

    /// <summary>mihomo's hosts (name → address or addresses) as a hosts server and the rule that asks it; wildcard names are noted.</summary>
    private static JsonObject? ConvertHosts(YamlMappingNode root, string source, JsonArray servers, List<string> notes)
    {
        if (!root.Children.TryGetValue(new YamlScalarNode("hosts"), out var node) || node is not YamlMappingNode hosts) return null;
        var predefined = new JsonObject();
        foreach (var (keyNode, valueNode) in hosts.Children)
        {
            string name = (keyNode as YamlScalarNode)?.Value ?? "";
            var values = valueNode switch
            {
                YamlScalarNode one => [one.Value ?? ""],
                YamlSequenceNode many => many.OfType<YamlScalarNode>().Select(s => s.Value ?? "").ToList(),
                _ => new List<string>(),
            };
            if (name.Contains('*') || name.StartsWith('+') || name.StartsWith('.') || values.Count == 0 || !values.All(v => IPAddress.TryParse(v, out _)))
            {
                notes.Add($"{source}: line {keyNode.Start.Line}: hosts \"{name}\" skipped: Sluice's hosts server takes exact names mapped to addresses");
                continue;
            }
            predefined[name] = new JsonArray(values.Select(v => (JsonNode)v).ToArray());
        }
        if (predefined.Count == 0) return null;
        servers.Add((JsonNode)new JsonObject { ["type"] = "hosts", ["tag"] = "hosts", ["predefined"] = predefined });
        return new JsonObject { ["domain"] = new JsonArray(predefined.Select(p => (JsonNode)p.Key).ToArray()), ["server"] = "hosts" };
    }

    /// <summary>tun.dns-hijack: "any:53" (or "tcp://any:53") → port 53; "ADDRESS:53" → that address's port 53.</summary>
    private static List<JsonObject> HijackRules(YamlMappingNode root)
    {
        var rules = new List<JsonObject>();
        if (!root.Children.TryGetValue(new YamlScalarNode("tun"), out var node) || node is not YamlMappingNode tun) return rules;
        foreach (string entry in List(tun, "dns-hijack") ?? [])
        {
            string target = entry.Contains("://", StringComparison.Ordinal) ? entry[(entry.IndexOf("://", StringComparison.Ordinal) + 3)..] : entry;
            int colon = target.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(target.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port)) continue;
            string host = target[..colon].Trim('[', ']');
            var rule = new JsonObject();
            if (host is not ("any" or "0.0.0.0" or "::") && IPAddress.TryParse(host, out var ip)) rule["ip_cidr"] = $"{ip}/{(ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128)}";
            rule["port"] = port;
            rule["action"] = "hijack-dns";
            if (!rules.Any(r => JsonNode.DeepEquals(r, rule))) rules.Add(rule);
        }
        return rules;
    }

    private static string? First(YamlMappingNode map, string key) => List(map, key) is { Count: > 0 } list ? list[0] : null;

    private static List<string>? List(YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out var v) ? v switch
        {
            YamlSequenceNode seq => seq.OfType<YamlScalarNode>().Select(s => s.Value ?? "").Where(s => s.Length > 0).ToList(),
            YamlScalarNode one when one.Value is { Length: > 0 } value => [value],
            _ => null,
        } : null;

    /// <summary>"198.18.0.1/16" (mihomo writes the gateway address) as the network "198.18.0.0/16".</summary>
    private static string Network(string cidr) =>
        IPNetwork.TryParse(cidr, out var exact) ? exact.ToString()
        : cidr.IndexOf('/') is int slash && slash > 0 && IPAddress.TryParse(cidr[..slash], out var address)
            && int.TryParse(cidr[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int bits)
            ? new IPNetwork(Mask(address, bits), bits).ToString() : cidr;

    private static IPAddress Mask(IPAddress address, int bits)
    {
        byte[] bytes = address.GetAddressBytes();
        for (int i = 0; i < bytes.Length; i++)
            bytes[i] &= (byte)(i * 8 >= bits ? 0 : i * 8 + 8 <= bits ? 0xff : 0xff << (8 - bits % 8));
        return new IPAddress(bytes);
    }
}
