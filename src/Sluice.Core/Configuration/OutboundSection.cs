using System.Text.Json;

namespace Sluice.Core.Configuration;

/// <summary>"outbounds": [...]. Each type is one entry in <see cref="Types"/>.</summary>
internal static class OutboundSection
{
    /// <summary>The types a server of a subscription may have: every outbound type, and a WireGuard endpoint's (exclude_type names them).</summary>
    internal static IEnumerable<string> ServerTypeNames => Types.Keys.Append("wireguard");

    /// <summary>
    /// Outbound type → parser of the fields besides "type" and "tag". A new protocol (shadowsocks,
    /// socks, …) adds one entry here and one record next to its implementation. No reflection.
    /// </summary>
    private static readonly Dictionary<string, Func<ObjectReader, string, OutboundOptions?>> Types = new(StringComparer.Ordinal)
    {
        ["direct"] = ParseDirect,
        ["block"] = (r, tag) => new BlockOutboundOptions(tag),
        ["shadowsocks"] = ProxyOutboundParsers.ParseShadowsocks,
        ["socks"] = ProxyOutboundParsers.ParseSocks,
        ["http"] = ProxyOutboundParsers.ParseHttp,
        ["trojan"] = Outbounds.Trojan.TrojanOptionsParser.Parse,
        ["vless"] = Outbounds.Vless.VlessOptionsParser.Parse,
        ["vmess"] = Outbounds.Vmess.VmessOptionsParser.Parse,
        ["selector"] = GroupOutboundParsers.ParseSelector,
        ["urltest"] = GroupOutboundParsers.ParseUrlTest,
        ["fallback"] = GroupOutboundParsers.ParseFallback,
    };

    /// <summary>
    /// sing-box's dial fields that Sluice does not implement yet. Proxy outbounds read "detour" and
    /// "domain_resolver" themselves (so these entries only answer for the other types); direct refuses
    /// both with its own reason.
    /// </summary>
    private static readonly HashSet<string> UnsupportedDialFields = new(StringComparer.Ordinal)
    {
        "detour", "inet4_bind_address", "inet6_bind_address", "reuse_addr", "tcp_fast_open", "tcp_multi_path",
        "udp_fragment", "domain_resolver", "network_strategy", "network_type",
        "fallback_network_type", "fallback_delay", "override_address", "override_port", "proxy_protocol", "netns",
    };

    public static void Parse(JsonElement element, string path, ConfigBuilder config)
    {
        if (element.ValueKind != JsonValueKind.Array)
        {
            ObjectReader.TypeError(path, "an array", element, config.Errors);
            return;
        }
        var tags = new HashSet<string>(StringComparer.Ordinal);
        int i = 0;
        foreach (var item in element.EnumerateArray())
        {
            string itemPath = JsonPath.Index(path, i++);
            if (ObjectReader.Open(item, itemPath, config.Errors) is not { } r) continue;
            string? type = r.String("type");
            if (type is null)
            {
                if (!r.Has("type")) config.Errors.Add(r.PathOf("type"), $"required (one of {string.Join(", ", Types.Keys)})");
                continue;
            }
            if (!Types.TryGetValue(type, out var parse))
            {
                config.Errors.Add(r.PathOf("type"), type switch
                {
                    "dns" => "the dns outbound was replaced by the rule action \"hijack-dns\" in sing-box 1.11: write {\"protocol\": \"dns\", \"action\": \"hijack-dns\"} "
                        + "where a rule routed to it, and remove it, or run `sluice check --fix -o new.json`",
                    "wireguard" => "the wireguard outbound moved to \"endpoints\" in sing-box 1.11 ({\"type\": \"wireguard\", \"address\": [...], \"private_key\", "
                        + "\"peers\": [{\"address\", \"port\", \"public_key\", \"allowed_ips\"}]}), or run `sluice check --fix -o new.json`",
                    _ => $"outbound type {JsonPath.Quote(type)} is not supported (supported: {string.Join(", ", Types.Keys)})",
                });
                config.TagsWithErrors.Add(r.String("tag") ?? type);
                continue;
            }
            // sing-box lets the tag be omitted; Sluice then names the outbound after its type.
            string tag = r.String("tag") ?? type;
            if (tag.Length == 0)
                config.Errors.Add(r.PathOf("tag"), "must not be empty");
            else if (!tags.Add(tag))
                config.Errors.Add(r.PathOf("tag"), $"duplicate tag {JsonPath.Quote(tag)}: tags name outbounds in rules and must be unique");
            int before = config.Errors.Count;
            var outbound = parse(r, tag);
            // Deprecated in sing-box 1.12, still in most exported configs: direct and the proxies read it as the
            // strategy for the names they dial; a group or block dials nothing, so only the default means anything.
            if (type is not "direct" && (outbound is null || ProxyServerOptions.Of(outbound) is null)
                && r.String("domain_strategy") is { } strategy && strategy is not ("" or "prefer_ipv4"))
                config.Errors.Add(r.PathOf("domain_strategy"), $"{JsonPath.Quote(strategy)} means nothing for a {type} outbound, which dials no names itself; remove it");
            r.Finish(f => UnsupportedDialFields.Contains(f) ? "not supported by Sluice yet" : null);
            if (outbound is not null && config.Errors.Count == before) config.Outbounds.Add(outbound);
            else config.TagsWithErrors.Add(tag);
            if (outbound is not null) config.OutboundPaths.TryAdd(tag, itemPath);
            if (outbound is not null && ProxyServerOptions.Of(outbound) is { } server)
            {
                if (server.Detour == tag)
                    config.Errors.Add(r.PathOf("detour"), $"an outbound cannot be its own detour: name the outbound its server is reached through, or remove \"detour\"");
                else if (server.Detour is { } detour)
                    config.ReferenceOutbound(detour, r.PathOf("detour"));
                if (server.DomainResolver is { } resolver) config.ReferenceDnsServer(resolver, r.PathOf("domain_resolver"));
            }
            if (outbound is GroupOutboundOptions group)
                for (int m = 0; m < group.Members.Count; m++) config.ReferenceOutbound(group.Members[m], GroupReferences.PathOf(itemPath, m, group.Members.Count));
        }
    }

    private static OutboundOptions ParseDirect(ObjectReader r, string tag)
    {
        var dial = ProxyOutboundParsers.ParseDial(r);
        if (r.Take("detour") is not null)
            r.Errors.Add(r.PathOf("detour"), "a direct outbound connects from the host itself and cannot go through another outbound; route the traffic to that outbound instead");
        if (r.Take("domain_resolver") is not null)
            r.Errors.Add(r.PathOf("domain_resolver"), "not supported by Sluice yet for direct: a fakeip flow's name is resolved by route.default_domain_resolver, a mixed inbound request's name by the host's resolvers");
        var strategy = DnsSection.ParseStrategy(r, "domain_strategy");
        return new DirectOutboundOptions(tag, dial) { DomainStrategy = strategy };
    }
}
