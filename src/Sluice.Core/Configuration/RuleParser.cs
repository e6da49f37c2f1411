using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Sluice.Core.Tun;

namespace Sluice.Core.Configuration;

/// <summary>One route rule (sing-box 1.11+ syntax: matchers + "action").</summary>
internal static class RuleParser
{
    public static readonly string[] Networks = ["tcp", "udp", "icmp"];
    public static readonly string[] Protocols = ["tls", "http", "quic", "dns", "bittorrent", "stun", "dtls", "ssh", "rdp", "ntp"];
    public static readonly string[] Actions = ["route", "reject", "hijack-dns", "sniff"];

    /// <summary>sing-box reads these from the platform's network state (Android/Apple, NetworkManager).</summary>
    private static readonly string[] NetworkIdentityFields = ["network_type", "wifi_ssid", "wifi_bssid"];

    private static readonly string[] ActionFields = ["action", "outbound", "method", "no_drop", "sniffer", "timeout"];

    /// <summary>Regexes run as RE2 does (as sing-box's Go regexp): no backtracking, so no catastrophic patterns.</summary>
    public const RegexOptions DomainRegexOptions = RegexOptions.NonBacktracking | RegexOptions.CultureInvariant | RegexOptions.IgnoreCase;

    public const RegexOptions PathRegexOptions = RegexOptions.NonBacktracking | RegexOptions.CultureInvariant;

    private static readonly HashSet<string> Unsupported = new(StringComparer.Ordinal)
    {
        "auth_user", "client",
        "package_name", "network_is_expensive", "network_is_constrained",
        "rule_set_ip_cidr_accept_empty",
        "preferred_by", "interface_address", "network_interface_address", "default_interface_address", "query_type",
        "network_strategy", "fallback_delay", "udp_disable_domain_unmapping",
        "tls_fragment", "tls_record_fragment",
    };

    public static RuleOptions? Parse(JsonElement element, string path, ConfigBuilder config, bool topLevel) =>
        RuleFrame.Parse(element, path, config.Errors, topLevel, new RuleFrame.Kind<RuleOptions, RuleAction>(
            r => ParseDefault(r, config),
            (mode, rules) => new LogicalRuleOptions(mode, rules),
            r => ParseAction(r, config),
            (rule, invert, action) => rule with { Invert = invert, Action = action },
            ActionFields,
            Unsupported));

    private static DefaultRuleOptions ParseDefault(ObjectReader r, ConfigBuilder config)
    {
        var inbound = r.Strings("inbound");
        for (int i = 0; i < inbound.Count; i++)
            config.ReferenceInbound(inbound[i], inbound.Count == 1 && !IsArray(r, "inbound") ? r.PathOf("inbound") : JsonPath.Index(r.PathOf("inbound"), i));

        foreach (string unknowable in NetworkIdentityFields)
        {
            if (r.Take(unknowable) is not null)
                config.Errors.Add(r.PathOf(unknowable), $"cannot be known here: Sluice on Linux has no source for {unknowable} (it would come from NetworkManager, which Sluice does not read); remove the item, or tell networks apart by interface or address");
        }
        return new DefaultRuleOptions
        {
            Inbound = inbound,
            Network = r.List("network", (e, p, errs) => OneOf(e, p, errs, Networks, "network")),
            Protocol = r.List("protocol", (e, p, errs) => OneOf(e, p, errs, Protocols, "protocol")),
            Domain = r.List("domain", DomainItem),
            DomainSuffix = r.List("domain_suffix", DomainItem),
            DomainKeyword = r.List("domain_keyword", NonEmpty),
            DomainRegex = r.List("domain_regex", (e, p, errs) => RegexItem(e, p, errs, DomainRegexOptions)),
            IpCidr = r.List("ip_cidr", InboundSection.CidrItem),
            IpIsPrivate = r.Bool("ip_is_private", false),
            SourceIpCidr = r.List("source_ip_cidr", InboundSection.CidrItem),
            Port = r.List("port", PortItem),
            PortRange = r.List("port_range", PortRangeItem),
            SourcePort = r.List("source_port", PortItem),
            SourcePortRange = r.List("source_port_range", PortRangeItem),
            ProcessName = r.List("process_name", NonEmpty),
            ProcessPath = r.List("process_path", NonEmpty),
            ProcessPathRegex = r.List("process_path_regex", (e, p, errs) => RegexItem(e, p, errs, PathRegexOptions)),
            IpVersion = r.Integer("ip_version", 4, 6) is { } v ? IpVersionItem(r, (int)v) : null,
            SourceIpIsPrivate = r.Bool("source_ip_is_private", false),
            User = r.List("user", NonEmpty),
            UserId = r.List("user_id", (e, p, errs) => ObjectReader.ReadInteger(e, p, 0, uint.MaxValue, errs) is { } n ? new Optional<uint>((uint)n) : default),
            RuleSet = RuleSetItems.ReadReferences(r, config),
            RuleSetIpCidrMatchSource = RuleSetItems.ReadMatchSource(r),
            ClashMode = RuleSetItems.ReadClashMode(r),
        };
    }

    private static int? IpVersionItem(ObjectReader r, int version)
    {
        if (version is 4 or 6) return version;
        r.Errors.Add(r.PathOf("ip_version"), $"{version} is not an IP version (expected 4 or 6)");
        return null;
    }

    private static bool IsArray(ObjectReader r, string name) => r.Take(name) is { ValueKind: JsonValueKind.Array };

    private static RuleAction? ParseAction(ObjectReader r, ConfigBuilder config)
    {
        var errors = r.Errors;
        string? action = r.String("action");
        bool hasOutbound = r.Has("outbound");
        if (action is null && r.Has("action")) return null; // wrong type, reported
        action ??= hasOutbound ? "route" : null;
        if (action is null)
        {
            errors.Add(r.Path, "missing \"outbound\" (or an \"action\": route, reject, hijack-dns, sniff)");
            return null;
        }
        RuleAction? result;
        switch (action)
        {
            case "route":
                string? outbound = r.String("outbound");
                if (outbound is null && !hasOutbound) errors.Add(r.PathOf("outbound"), "required for action \"route\"");
                if (outbound is not null) config.ReferenceOutbound(outbound, r.PathOf("outbound"));
                result = outbound is null ? null : new RouteAction(outbound);
                break;
            case "reject":
                string method = r.String("method") ?? "default";
                if (method is not ("default" or "drop"))
                    errors.Add(r.PathOf("method"), $"unknown method {JsonPath.Quote(method)} (expected \"default\" or \"drop\")");
                r.Bool("no_drop", false); // sing-box's flood guard; Sluice answers every rejected flow, so it has no effect
                result = new RejectAction(method == "drop");
                break;
            case "hijack-dns":
                result = new HijackDnsAction();
                break;
            case "sniff":
                var sniffers = r.List("sniffer", (e, p, errs) => OneOf(e, p, errs, Protocols, "sniffer"));
                var timeout = r.Duration("timeout") ?? ConfigDefaults.SniffTimeout;
                result = new SniffAction(sniffers, timeout);
                break;
            case "route-options":
                result = ParseRouteOptions(r);
                break;
            case "resolve":
                string? server = r.String("server");
                if (server is not null) config.ReferenceDnsServer(server, r.PathOf("server"));
                var strategy = DnsSection.ParseStrategy(r, "strategy");
                foreach (string field in new[] { "disable_cache", "rewrite_ttl", "client_subnet" })
                    r.RefuseUnlessInert(field, "not supported by Sluice yet for action \"resolve\" (supported: server, strategy)");
                result = new ResolveAction(server, strategy);
                break;
            case "bypass":
                errors.Add(r.PathOf("action"), $"action {JsonPath.Quote(action)} is not supported yet (supported: {string.Join(", ", Actions)})");
                return null;
            default:
                errors.Add(r.PathOf("action"), $"unknown action {JsonPath.Quote(action)} (expected one of {string.Join(", ", Actions)})");
                return null;
        }
        // Fields of the other actions are mistakes, not unknown fields: say which action they belong to. Set to their
        // zero value they ask for nothing (sing-box's route action even takes route-options' fields), as exporters write them.
        foreach (var (field, owner) in new[]
                 {
                     ("outbound", "route"), ("method", "reject"), ("no_drop", "reject"), ("sniffer", "sniff"), ("timeout", "sniff"),
                     ("override_address", "route-options"), ("override_port", "route-options"), ("udp_timeout", "route-options"), ("udp_connect", "route-options"),
                     ("server", "resolve"), ("strategy", "resolve"),
                 })
        {
            if (owner != action && r.Take(field) is { } value && !ObjectReader.IsInert(value))
                errors.Add(r.PathOf(field), $"only allowed with \"action\": {JsonPath.Quote(owner)}, this rule's action is {JsonPath.Quote(action)}");
        }
        return result;
    }

    private static RouteOptionsAction? ParseRouteOptions(ObjectReader r)
    {
        Packets.NetAddress? address = null;
        if (r.String("override_address") is { } text)
        {
            if (Packets.NetAddress.TryParse(text, out var parsed)) address = parsed;
            else r.Errors.Add(r.PathOf("override_address"), $"{JsonPath.Quote(text)} is not an IP address (Sluice dials an address here, not a name)");
        }
        ushort? port = r.Integer("override_port", 1, 65535) is { } p ? (ushort)p : null;
        var udpTimeout = r.Duration("udp_timeout");
        if (udpTimeout is { } t && t <= TimeSpan.Zero) r.Errors.Add(r.PathOf("udp_timeout"), "must be more than 0 (e.g. \"30s\")");
        bool udpConnect = r.Bool("udp_connect", false);
        if (address is null && port is null && udpTimeout is null && !udpConnect && !r.Has("override_address"))
            r.Errors.Add(r.Path, "route-options sets nothing: give override_address, override_port, udp_timeout or udp_connect");
        return new RouteOptionsAction(address, port, udpTimeout, udpConnect);
    }

    internal static Optional<string> OneOf(JsonElement e, string path, ErrorList errors, string[] allowed, string what)
    {
        if (ObjectReader.StringItem(e, path, errors) is not { HasValue: true } s) return default;
        if (allowed.Contains(s.Value)) return s;
        errors.Add(path, $"unknown {what} {JsonPath.Quote(s.Value)} (expected one of {string.Join(", ", allowed)})");
        return default;
    }

    internal static Optional<string> NonEmpty(JsonElement e, string path, ErrorList errors)
    {
        if (ObjectReader.StringItem(e, path, errors) is not { HasValue: true } s) return default;
        if (s.Value.Length > 0) return s;
        errors.Add(path, "must not be empty");
        return default;
    }

    /// <summary>Shared with DNS rules: a domain name, lowercased, trailing dot dropped.</summary>
    internal static Optional<string> DomainItem(JsonElement e, string path, ErrorList errors)
    {
        if (NonEmpty(e, path, errors) is not { HasValue: true } s) return default;
        string d = s.Value.TrimEnd('.');
        if (d.Length == 0 || d.Any(c => c is ' ' or '/' or ':' or '*' || char.IsControl(c)))
        {
            errors.Add(path, $"{JsonPath.Quote(s.Value)} is not a domain name");
            return default;
        }
        return d.ToLowerInvariant();
    }

    internal static Optional<string> RegexItem(JsonElement e, string path, ErrorList errors, RegexOptions options)
    {
        if (NonEmpty(e, path, errors) is not { HasValue: true } s) return default;
        try
        {
            _ = new Regex(s.Value, options);
            return s;
        }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException)
        {
            errors.Add(path, $"{JsonPath.Quote(s.Value)} is not a valid regular expression: {ex.Message}");
            return default;
        }
    }

    internal static Optional<ushort> PortItem(JsonElement e, string path, ErrorList errors) =>
        ObjectReader.ReadInteger(e, path, 0, 65535, errors) is { } n ? new Optional<ushort>((ushort)n) : default;

    /// <summary>sing-box syntax: "1000:2000", ":3000" (0..3000), "4000:" (4000..65535).</summary>
    internal static Optional<PortRange> PortRangeItem(JsonElement e, string path, ErrorList errors)
    {
        if (ObjectReader.StringItem(e, path, errors) is not { HasValue: true } s) return default;
        string text = s.Value;
        int colon = text.IndexOf(':');
        if (colon >= 0 && text.Length > 1 && text.IndexOf(':', colon + 1) < 0
            && Bound(text[..colon], 0, out ushort start) && Bound(text[(colon + 1)..], 65535, out ushort end))
        {
            if (start <= end) return new PortRange(start, end);
            errors.Add(path, $"{JsonPath.Quote(text)} is not a port range: start is after end");
            return default;
        }
        errors.Add(path, $"{JsonPath.Quote(text)} is not a port range (expected \"start:end\", \":end\" or \"start:\", ports 0-65535)");
        return default;

        static bool Bound(string part, ushort empty, out ushort value)
        {
            value = empty;
            return part.Length == 0 || ushort.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out value);
        }
    }
}
