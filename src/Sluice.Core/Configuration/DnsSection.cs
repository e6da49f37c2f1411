using System.Text.Json;
using Sluice.Core.Dns;
using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Core.Configuration;

/// <summary>
/// "dns": servers, rules, final, strategy, cache options (sing-box 1.12 syntax; docs/config.md#dns).
/// Server tags are checked here (rules, final, domain_resolver); route.default_domain_resolver is
/// checked in <see cref="CheckReferences"/> because "route" may come before or after "dns".
/// </summary>
internal static partial class DnsSection
{
    public static readonly string[] ServerTypes = ["udp", "tcp", "tls", "https", "fakeip", "local", "hosts"];

    private static readonly string[] PlannedServerTypes = ["quic", "h3", "dhcp", "resolved", "tailscale", "predefined"];

    private static readonly HashSet<string> UnsupportedFields = new(StringComparer.Ordinal)
    {
        "disable_expire", "fakeip", "cache_file", "reverse_mapping_ttl",
    };

    /// <summary>sing-box dial fields a DNS server may carry that Sluice does not implement.</summary>
    private static readonly HashSet<string> UnsupportedDialFields = new(StringComparer.Ordinal)
    {
        "bind_interface", "inet4_bind_address", "inet6_bind_address", "routing_mark", "reuse_addr", "connect_timeout",
        "tcp_fast_open", "tcp_multi_path", "udp_fragment", "domain_strategy", "network_strategy", "network_type",
        "fallback_network_type", "fallback_delay", "headers", "interface", "strategy",
    };

    private static readonly DnsStrategy[] Strategies = [DnsStrategy.PreferIpv4, DnsStrategy.PreferIpv6, DnsStrategy.Ipv4Only, DnsStrategy.Ipv6Only];

    public static void Parse(JsonElement element, string path, ConfigBuilder config)
    {
        var errors = config.Errors;
        if (ObjectReader.Open(element, path, errors) is not { } r) return;

        var servers = new List<DnsServerOptions>();
        var serverPaths = new List<string>();
        var resolverReferences = new List<(string Tag, string Path, string Owner)>();
        if (r.Take("servers") is { } serversElement)
        {
            string serversPath = r.PathOf("servers");
            if (serversElement.ValueKind != JsonValueKind.Array)
            {
                ObjectReader.TypeError(serversPath, "an array", serversElement, errors);
            }
            else
            {
                int i = 0;
                foreach (var item in serversElement.EnumerateArray())
                {
                    string itemPath = JsonPath.Index(serversPath, i++);
                    if (ParseServer(item, itemPath, config, resolverReferences) is not { } server)
                    {
                        // Refused with its own error: rules naming it get no second one.
                        if (item.ValueKind == JsonValueKind.Object && item.TryGetProperty("tag", out var tag) && tag.ValueKind == JsonValueKind.String)
                            config.TagsWithErrors.Add(tag.GetString()!);
                        continue;
                    }
                    int existing = servers.FindIndex(s => s.Tag == server.Tag);
                    if (existing >= 0)
                        errors.Add(JsonPath.Field(itemPath, "tag"), $"duplicate tag {JsonPath.Quote(server.Tag)}: tags name DNS servers in rules and must be unique");
                    servers.Add(server);
                    serverPaths.Add(itemPath);
                }
            }
        }
        var tags = servers.Select(s => s.Tag).ToHashSet(StringComparer.Ordinal);

        var serverReferences = new List<(string Tag, string Path)>();
        var rules = new List<DnsRuleOptions>();
        if (r.Take("rules") is { } rulesElement)
        {
            string rulesPath = r.PathOf("rules");
            if (rulesElement.ValueKind != JsonValueKind.Array)
            {
                ObjectReader.TypeError(rulesPath, "an array", rulesElement, errors);
            }
            else
            {
                int i = 0;
                foreach (var item in rulesElement.EnumerateArray())
                {
                    if (ParseRule(item, JsonPath.Index(rulesPath, i), config, serverReferences, topLevel: true) is { } rule)
                    {
                        CheckAddressFilters(rule, JsonPath.Index(rulesPath, i), config.Errors);
                        rules.Add(rule);
                    }
                    i++;
                }
            }
        }

        string? final = r.String("final");
        if (final is { Length: 0 }) final = null;
        if (final is not null) serverReferences.Add((final, r.PathOf("final")));
        var strategy = ParseStrategy(r, "strategy") ?? DnsStrategy.AsIs;
        bool disableCache = r.Bool("disable_cache", false);
        bool independentCache = r.Bool("independent_cache", false);
        int capacity = (int)(r.Integer("cache_capacity", 0, int.MaxValue) ?? DnsOptions.DefaultCacheCapacity);
        bool reverseMapping = r.Bool("reverse_mapping", true);
        var timeout = r.Duration("timeout") ?? DnsOptions.DefaultTimeout;
        var clientSubnet = ReadClientSubnet(r);
        if (timeout <= TimeSpan.Zero && r.Has("timeout")) errors.Add(r.PathOf("timeout"), "must be more than 0 (default \"5s\")");
        r.Finish(f => f == "fakeip"
            ? "the legacy fakeip block (before sing-box 1.12): its inet4_range/inet6_range belong in a {\"type\": \"fakeip\"} server; `sluice check --fix -o new.json` moves them"
            : UnsupportedFields.Contains(f) ? "not supported by Sluice yet" : null);

        foreach (var (tag, at) in serverReferences)
        {
            if (!tags.Contains(tag) && !config.TagsWithErrors.Contains(tag)) errors.Add(at, NoServer(tag, tags));
        }
        foreach (var (tag, at, owner) in resolverReferences)
        {
            if (!tags.Contains(tag) && !config.TagsWithErrors.Contains(tag)) errors.Add(at, NoServer(tag, tags));
            else if (tag == owner) errors.Add(at, $"a server cannot resolve its own name; name another server (e.g. a \"local\" one)");
            else if (servers.First(s => s.Tag == tag) is FakeIpDnsServerOptions)
                errors.Add(at, $"{JsonPath.Quote(tag)} is a fakeip server; a server's name needs its real address");
        }

        config.Dns = new DnsOptions
        {
            Servers = servers,
            Rules = rules,
            Final = final,
            Strategy = strategy,
            DisableCache = disableCache,
            IndependentCache = independentCache,
            CacheCapacity = Math.Max(capacity, DnsOptions.DefaultCacheCapacity),
            ReverseMapping = reverseMapping,
            Timeout = timeout > TimeSpan.Zero ? timeout : DnsOptions.DefaultTimeout,
            ClientSubnet = clientSubnet,
        };
    }

    /// <summary>
    /// route.default_domain_resolver and outbounds' domain_resolver must name a DNS server that gives real
    /// addresses (called once every section is read).
    /// </summary>
    public static void CheckReferences(ConfigBuilder config)
    {
        var tags = config.Dns.Servers.Select(s => s.Tag).ToHashSet(StringComparer.Ordinal);
        foreach (var (resolver, at) in config.DnsServerReferences)
        {
            if (!tags.Contains(resolver))
            {
                if (!config.TagsWithErrors.Contains(resolver)) config.Errors.Add(at, NoServer(resolver, tags));
            }
            else if (config.Dns.Servers.First(s => s.Tag == resolver) is FakeIpDnsServerOptions)
                config.Errors.Add(at, $"{JsonPath.Quote(resolver)} is a fakeip server; a proxy server's name needs its real address (name a udp, tcp, tls, https, local or hosts server)");
        }
        if (config.Route.DefaultDomainResolver is not { } tag) return;
        if (!tags.Contains(tag))
        {
            if (!config.TagsWithErrors.Contains(tag)) config.Errors.Add("route.default_domain_resolver", NoServer(tag, tags));
        }
        else if (config.Dns.Servers.First(s => s.Tag == tag) is FakeIpDnsServerOptions)
            config.Errors.Add("route.default_domain_resolver", $"{JsonPath.Quote(tag)} is a fakeip server; the engine's own lookups need real addresses (name a udp, tcp, tls, https, local or hosts server)");
        config.Dns = config.Dns with { DefaultDomainResolver = tag, DefaultDomainStrategy = config.Route.DefaultDomainStrategy };
    }

    private static string NoServer(string tag, HashSet<string> tags) =>
        tags.Count == 0
            ? $"no DNS server has tag {JsonPath.Quote(tag)} (dns.servers is empty)"
            : $"no DNS server has tag {JsonPath.Quote(tag)} (servers: {string.Join(", ", tags)})";

    internal static DnsStrategy? ParseStrategy(ObjectReader r, string name)
    {
        string? s = r.String(name);
        if (s is null or "") return null;
        foreach (var strategy in Strategies)
            if (strategy.ConfigName() == s) return strategy;
        r.Errors.Add(r.PathOf(name), $"unknown strategy {JsonPath.Quote(s)} (expected one of {string.Join(", ", Strategies.Select(DnsStrategyNames.ConfigName))})");
        return null;
    }

    private static DnsServerOptions? ParseServer(JsonElement element, string path, ConfigBuilder config, List<(string, string, string)> resolverReferences)
    {
        var errors = config.Errors;
        if (ObjectReader.Open(element, path, errors) is not { } r) return null;
        int before = errors.Count;
        if (r.Has("address") && !r.Has("type"))
        {
            r.Take("address");
            errors.Add(r.PathOf("address"), "legacy DNS server syntax (before sing-box 1.12); write {\"type\": \"udp\", \"server\": \"1.1.1.1\"} (types: "
                + string.Join(", ", ServerTypes) + "), or run `sluice check --fix -o new.json`");
            return null;
        }
        string? type = r.String("type");
        if (type is null)
        {
            if (!r.Has("type")) errors.Add(r.PathOf("type"), $"required: one of {string.Join(", ", ServerTypes)}");
            return null;
        }
        if (!ServerTypes.Contains(type))
        {
            errors.Add(r.PathOf("type"), PlannedServerTypes.Contains(type)
                ? $"DNS server type {JsonPath.Quote(type)} is not supported by Sluice yet (supported: {string.Join(", ", ServerTypes)})"
                : $"unknown DNS server type {JsonPath.Quote(type)} (expected one of {string.Join(", ", ServerTypes)})");
            return null;
        }
        string tag = r.String("tag") ?? type;
        if (tag.Length == 0) errors.Add(r.PathOf("tag"), "must not be empty");

        var subnet = ReadClientSubnet(r);
        if (subnet is not null && type is "fakeip" or "hosts")
            errors.Add(r.PathOf("client_subnet"), $"a {type} server answers by itself and sends no queries to carry a client subnet");
        DnsServerOptions? server = type switch
        {
            "udp" or "tcp" or "tls" or "https" => ParseRemote(r, type, tag, config, resolverReferences),
            "fakeip" => ParseFakeIp(r, tag),
            "local" => ParseLocal(r, tag),
            _ => ParseHosts(r, tag),
        };
        if (server is not null && subnet is not null) server = server with { ClientSubnet = subnet };
        r.Finish(f => UnsupportedDialFields.Contains(f) ? "not supported by Sluice yet" : null);
        return errors.Count > before ? null : server;
    }

    private static RemoteDnsServerOptions? ParseRemote(ObjectReader r, string type, string tag, ConfigBuilder config, List<(string, string, string)> resolverReferences)
    {
        var errors = r.Errors;
        string? server = r.String("server");
        if (server is null or "")
        {
            errors.Add(r.PathOf("server"), "required: the server's address or host name");
            return null;
        }
        server = server.Trim('[', ']');
        if (!NetAddress.TryParse(server, out _) && DnsName.Encode(server) is null)
            errors.Add(r.PathOf("server"), $"{JsonPath.Quote(server)} is neither an IP address nor a host name");
        ushort defaultPort = type switch { "tls" => 853, "https" => 443, _ => 53 };
        ushort port = (ushort)(r.Integer("server_port", 1, 65535) ?? defaultPort);
        string? urlPath = null;
        if (type == "https")
        {
            urlPath = r.String("path") ?? "/dns-query";
            if (!urlPath.StartsWith('/')) errors.Add(r.PathOf("path"), $"{JsonPath.Quote(urlPath)} must start with \"/\"");
        }
        string? detour = r.String("detour");
        if (detour is { Length: 0 }) detour = null;
        if (detour is not null) config.ReferenceOutbound(detour, r.PathOf("detour"));
        var (resolver, strategy) = ParseDomainResolver(r);
        if (resolver is not null) resolverReferences.Add((resolver, r.PathOf("domain_resolver"), tag));
        // A DNS server's own name is dialed at its IPv4 address when it has one, else its IPv6 one.
        if (strategy is not (null or DnsStrategy.PreferIpv4))
            errors.Add(r.PathOf("domain_resolver") + ".strategy", "not supported by Sluice yet for a DNS server's name, which is dialed at its IPv4 address when it has one, else its IPv6 one (\"prefer_ipv4\"); remove it or write \"prefer_ipv4\"");
        DnsTlsOptions? tls = null;
        if (type is "tls" or "https")
            tls = ParseTls(r);
        return new RemoteDnsServerOptions(type, tag, server, port, urlPath, detour, resolver, tls);
    }

    /// <summary>client_subnet: a prefix ("203.0.113.0/24"), or an address, which stands for /32 or /128 (sing-box).</summary>
    internal static IpPrefix? ReadClientSubnet(ObjectReader r)
    {
        // "" is sing-box's zero value (no subnet), as exporters write it.
        if (r.String("client_subnet") is not { Length: > 0 } text) return null;
        if (IpPrefix.TryParse(text, out var prefix) && !text.Contains(' ')) return prefix with { Address = prefix.Network };
        r.Errors.Add(r.PathOf("client_subnet"), $"{JsonPath.Quote(text)} is neither an IP prefix nor an address (e.g. \"203.0.113.0/24\")");
        return null;
    }

    /// <summary>
    /// A tag, or sing-box's object form {"server": tag, "strategy": …}: which address family of the name is dialed
    /// (null: the IPv4 address when there is one, else the IPv6 one, as "prefer_ipv4").
    /// </summary>
    internal static (string? Tag, DnsStrategy? Strategy) ParseDomainResolver(ObjectReader r, string name = "domain_resolver")
    {
        if (r.Take(name) is not { } v) return (null, null);
        string path = r.PathOf(name);
        if (v.ValueKind == JsonValueKind.String) return (v.GetString() is { Length: > 0 } s ? s : null, null);
        if (ObjectReader.Open(v, path, r.Errors) is not { } o) return (null, null);
        string? server = o.String("server");
        if (server is null) r.Errors.Add(o.PathOf("server"), "required: the tag of the DNS server that resolves this name");
        var strategy = ParseStrategy(o, "strategy");
        o.Finish(f => f is "disable_cache" or "rewrite_ttl" or "client_subnet" ? "not supported by Sluice yet" : null);
        return (server, strategy);
    }

    /// <summary>
    /// An outbound's "domain_strategy" (deprecated in sing-box 1.12 for domain_resolver's strategy, still in most exported
    /// configs) as the strategy for the names it dials, unless <paramref name="fromResolver"/> names one already; the two
    /// disagreeing is an error at domain_strategy.
    /// </summary>
    internal static DnsStrategy? WithLegacyDomainStrategy(ObjectReader r, DnsStrategy? fromResolver)
    {
        var legacy = ParseStrategy(r, "domain_strategy");
        if (legacy is null) return fromResolver;
        if (fromResolver is not null && fromResolver != legacy)
            r.Errors.Add(r.PathOf("domain_strategy"), $"{JsonPath.Quote(legacy.Value.ConfigName())} disagrees with domain_resolver.strategy {JsonPath.Quote(fromResolver.Value.ConfigName())}: keep one (domain_strategy is the deprecated form)");
        return fromResolver ?? legacy;
    }

    private static DnsTlsOptions? ParseTls(ObjectReader r)
    {
        if (r.Take("tls") is not { } v) return null;
        if (ObjectReader.Open(v, r.PathOf("tls"), r.Errors) is not { } t) return null;
        bool enabled = t.Bool("enabled", true);
        if (!enabled) r.Errors.Add(t.PathOf("enabled"), "tls and https servers always use TLS; remove \"enabled\": false or use type udp/tcp");
        string? serverName = t.String("server_name");
        bool insecure = t.Bool("insecure", false);
        string? certificatePath = t.String("certificate_path");
        if (certificatePath is not null && t.Errors.ReadText(t.PathOf("certificate_path"), certificatePath, EngineLimits.Default.PemFileBytes) is null) certificatePath = null;
        t.Finish(f => f is "alpn" or "min_version" or "max_version" or "cipher_suites" or "certificate" or "utls" or "ech" or "reality" or "disable_sni"
            ? "not supported by Sluice yet" : null);
        return new DnsTlsOptions(serverName is { Length: > 0 } ? serverName : null, insecure, certificatePath) { Files = t.Errors.Files };
    }

    private static FakeIpDnsServerOptions ParseFakeIp(ObjectReader r, string tag)
    {
        IpPrefix? v4 = Range(r, "inet4_range", v4: true);
        IpPrefix? v6 = Range(r, "inet6_range", v4: false);
        if (v4 is null && v6 is null && !r.Has("inet4_range") && !r.Has("inet6_range")) v4 = FakeIpDnsServerOptions.DefaultInet4Range;
        return new FakeIpDnsServerOptions(tag, v4, v6);

        static IpPrefix? Range(ObjectReader r, string name, bool v4)
        {
            if (r.String(name) is not { } text) return null;
            string path = r.PathOf(name);
            if (!IpPrefix.TryParse(text, out var prefix))
            {
                r.Errors.Add(path, $"{JsonPath.Quote(text)} is not a CIDR");
                return null;
            }
            if (prefix.IsV4 != v4)
            {
                r.Errors.Add(path, $"{JsonPath.Quote(text)} is not an IPv{(v4 ? 4 : 6)} range");
                return null;
            }
            int hostBits = (v4 ? 32 : 128) - prefix.Length;
            if (hostBits < 2)
            {
                r.Errors.Add(path, $"{JsonPath.Quote(text)} is too small: fake addresses need a range of at least 4 addresses");
                return null;
            }
            return new IpPrefix(prefix.Network, prefix.Length);
        }
    }

    private static LocalDnsServerOptions ParseLocal(ObjectReader r, string tag)
    {
        r.Bool("prefer_go", false); // sing-box: Go's resolver instead of the system's; Sluice always reads resolv.conf
        return new LocalDnsServerOptions(tag);
    }

    private static HostsDnsServerOptions ParseHosts(ObjectReader r, string tag)
    {
        var paths = r.Strings("path");
        var predefined = new Dictionary<string, IReadOnlyList<NetAddress>>(StringComparer.OrdinalIgnoreCase);
        if (r.Take("predefined") is { } p && ObjectReader.Open(p, r.PathOf("predefined"), r.Errors) is { } o)
        {
            foreach (var entry in p.EnumerateObject())
            {
                string name = entry.Name.TrimEnd('.').ToLowerInvariant();
                string entryPath = o.PathOf(entry.Name);
                if (DnsName.Encode(name) is null) r.Errors.Add(entryPath, $"{JsonPath.Quote(entry.Name)} is not a domain name");
                var addresses = o.List(entry.Name, AddressItem);
                if (addresses.Count > 0) predefined[name] = addresses;
            }
            o.Finish();
        }
        // sing-box: with neither, the system's hosts file (the platform's DnsEnvironment.HostsPaths).
        return new HostsDnsServerOptions(tag, paths, predefined) { Files = r.Errors.Files };
    }

    private static Optional<NetAddress> AddressItem(JsonElement e, string path, ErrorList errors)
    {
        if (ObjectReader.StringItem(e, path, errors) is not { HasValue: true } s) return default;
        if (NetAddress.TryParse(s.Value, out var a)) return a;
        errors.Add(path, $"{JsonPath.Quote(s.Value)} is not an IP address");
        return default;
    }
}
