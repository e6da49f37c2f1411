using System.Text.Json;
using Sluice.Core.Tun;

namespace Sluice.Core.Configuration;

/// <summary>"inbounds": [...]: at most one "tun", any number of "mixed" / "socks" / "http" proxies and "direct" DNS listeners.</summary>
internal static class InboundSection
{
    private static readonly Dictionary<string, Func<ObjectReader, ConfigBuilder, string, TunInboundOptions?>> Types = new(StringComparer.Ordinal)
    {
        ["tun"] = ParseTun,
    };

    /// <summary>Fields of sing-box's tun inbound that Sluice does not implement (clearer than "unknown field").</summary>
    private static readonly HashSet<string> UnsupportedTunFields = new(StringComparer.Ordinal)
    {
        "gso", "iproute2_table_index", "iproute2_rule_index", "auto_redirect", "auto_redirect_input_mark",
        "auto_redirect_output_mark", "endpoint_independent_nat",
        "include_android_user", "include_package", "exclude_package", "platform", "loopback_address",
    };

    public static void Parse(JsonElement element, string path, ConfigBuilder config)
    {
        if (element.ValueKind != JsonValueKind.Array)
        {
            ObjectReader.TypeError(path, "an array", element, config.Errors);
            return;
        }
        int i = 0;
        foreach (var item in element.EnumerateArray())
        {
            string itemPath = JsonPath.Index(path, i++);
            if (ObjectReader.Open(item, itemPath, config.Errors) is not { } r) continue;
            string? type = r.String("type");
            if (type is null)
            {
                if (!r.Has("type")) config.Errors.Add(r.PathOf("type"), "required (Sluice supports \"tun\")");
                continue;
            }
            if (type is "mixed" or "socks" or "http")
            {
                MixedInboundParser.Parse(r, config, type);
                continue;
            }
            if (type == "direct")
            {
                DirectInboundParser.Parse(r, config);
                continue;
            }
            if (!Types.TryGetValue(type, out var parse))
            {
                config.Errors.Add(r.PathOf("type"), $"inbound type {JsonPath.Quote(type)} is not supported (only \"tun\", \"mixed\", \"socks\", \"http\" and \"direct\")");
                continue;
            }
            int errorsBefore = config.Errors.Count;
            var parsedTun = parse(r, config, itemPath);
            // Rules naming an inbound refused here get no second "no inbound has tag" error: its own says why.
            if (parsedTun is null || config.Errors.Count > errorsBefore) config.TagsWithErrors.Add(parsedTun?.Tag ?? TagOf(item));
            if (parsedTun is { } tun)
            {
                if (config.TunInbounds.Count > 0)
                    config.Errors.Add(itemPath, "only one \"tun\" inbound is supported");
                else
                    config.TunInbounds.Add(tun);
            }
        }
    }

    private static string TagOf(JsonElement item) =>
        item.TryGetProperty("tag", out var tag) && tag.ValueKind == JsonValueKind.String ? tag.GetString()! : ConfigDefaults.TunTag;

    private static TunInboundOptions? ParseTun(ObjectReader r, ConfigBuilder config, string path)
    {
        var errors = config.Errors;
        int before = errors.Count;
        string tag = r.String("tag") ?? ConfigDefaults.TunTag;
        // "" is what exported configs write for "pick one" (sing-box reads it as absent).
        string name = r.String("interface_name") is { Length: > 0 } given ? given : ConfigDefaults.TunInterfaceName;
        if (!InterfaceNames.IsValid(name)) errors.Add(r.PathOf("interface_name"), InterfaceNames.Problem(name));

        var address = r.List("address", CidrItem);
        if (!r.Has("address") && !r.Has("inet4_address") && !r.Has("inet6_address")) // the legacy fields get their own error
            errors.Add(r.PathOf("address"), "required: at least one address such as \"172.19.0.1/30\"");
        CheckNatRoom(address, r.PathOf("address"), errors);

        int mtu = (int)(r.Integer("mtu", 576, 65535) ?? ConfigDefaults.TunMtu);
        bool autoRoute = r.Bool("auto_route", false);
        bool strictRoute = r.Bool("strict_route", false);
        string stack = r.String("stack") ?? "system";
        if (stack is not ("system" or "gvisor" or "mixed"))
            errors.Add(r.PathOf("stack"), $"unknown stack {JsonPath.Quote(stack)} (expected \"system\", \"gvisor\" or \"mixed\")");
        var routeAddress = r.List("route_address", CidrItem);
        var routeExclude = r.List("route_exclude_address", CidrItem);
        var routeSet = RuleSetItems.ReadTunSets(r, "route_address_set", config);
        var routeExcludeSet = RuleSetItems.ReadTunSets(r, "route_exclude_address_set", config);
        var scope = TunRouteScopeSection.Read(r, autoRoute);
        var udpTimeout = r.Duration("udp_timeout");
        if (udpTimeout is { } t && t <= TimeSpan.Zero) errors.Add(r.PathOf("udp_timeout"), "must be more than 0 (e.g. \"5m\")");
        Migration.RefuseRemovedTunFields(r);
        r.Finish(f => UnsupportedTunFields.Contains(f) ? "not supported by Sluice" : null);
        return errors.Count > before ? null : new TunInboundOptions(tag, name, address, mtu, autoRoute, strictRoute, stack, routeAddress, routeExclude)
        {
            RouteAddressSet = routeSet,
            RouteExcludeAddressSet = routeExcludeSet,
            Scope = scope,
            UdpTimeout = udpTimeout,
        };
    }

    /// <summary>
    /// The system stack's NAT rewrites an app's packet to come from a second address in the TUN's
    /// prefix, so the first prefix of each family must leave room for one: /30 or shorter for IPv4,
    /// /126 or shorter for IPv6.
    /// </summary>
    private static void CheckNatRoom(IReadOnlyList<IpPrefix> address, string path, ErrorList errors)
    {
        int v4 = FirstIndex(address, v4: true), v6 = FirstIndex(address, v4: false);
        if (v4 >= 0 && address[v4].Length > 30)
            errors.Add(address.Count == 1 ? path : JsonPath.Index(path, v4),
                $"{address[v4]} is too narrow: the first IPv4 prefix must be /30 or shorter so the engine has a second address for its NAT (e.g. \"172.19.0.1/30\")");
        if (v6 >= 0 && address[v6].Length > 126)
            errors.Add(address.Count == 1 ? path : JsonPath.Index(path, v6),
                $"{address[v6]} is too narrow: the first IPv6 prefix must be /126 or shorter so the engine has a second address for its NAT (e.g. \"fdfe:dcba:9876::1/126\")");
    }

    private static int FirstIndex(IReadOnlyList<IpPrefix> list, bool v4)
    {
        for (int i = 0; i < list.Count; i++)
            if (list[i].IsV4 == v4) return i;
        return -1;
    }

    public static Optional<IpPrefix> CidrItem(JsonElement e, string path, ErrorList errors)
    {
        if (e.ValueKind != JsonValueKind.String)
        {
            ObjectReader.TypeError(path, "a CIDR string", e, errors);
            return default;
        }
        string s = e.GetString()!;
        if (IpPrefix.TryParse(s, out var prefix) && !s.Contains(' ')) return prefix;
        errors.Add(path, $"{JsonPath.Quote(s)} is not a CIDR");
        return default;
    }
}
