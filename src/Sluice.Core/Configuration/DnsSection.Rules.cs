using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Sluice.Core.Dns;

namespace Sluice.Core.Configuration;

/// <summary>dns.rules: sing-box DNS rules (matchers + action route/reject/predefined), first match wins.</summary>
internal static partial class DnsSection
{
    public static readonly string[] RuleActions = ["route", "reject", "predefined"];

    private static readonly string[] RuleActionFields = ["action", "server", "strategy", "disable_cache", "client_subnet", "method", "no_drop", "rcode", "answer", "ns", "extra", "rewrite_ttl"];

    private static readonly HashSet<string> UnsupportedRuleFields = new(StringComparer.Ordinal)
    {
        "ip_version", "network", "auth_user", "protocol", "source_ip_cidr", "source_ip_is_private", "source_port", "source_port_range", "port", "port_range", "package_name", "user",
        "network_type", "network_is_expensive", "network_is_constrained", "wifi_ssid", "wifi_bssid",
        "outbound",
        "interface_address", "network_interface_address", "default_interface_address",
    };

    private static readonly (string Name, DnsRcode Code)[] Rcodes =
    [
        ("NOERROR", DnsRcode.NoError), ("FORMERR", DnsRcode.FormErr), ("SERVFAIL", DnsRcode.ServFail),
        ("NXDOMAIN", DnsRcode.NxDomain), ("NOTIMP", DnsRcode.NotImp), ("REFUSED", DnsRcode.Refused),
    ];

    private static DnsRuleOptions? ParseRule(JsonElement element, string path, ConfigBuilder config, List<(string, string)> serverReferences, bool topLevel) =>
        RuleFrame.Parse(element, path, config.Errors, topLevel, new RuleFrame.Kind<DnsRuleOptions, DnsRuleAction>(
            r => ParseDefaultRule(r, config),
            (mode, rules) => new LogicalDnsRuleOptions(mode, rules),
            r => ParseRuleAction(r, serverReferences),
            (rule, invert, action) => rule with { Invert = invert, Action = action },
            RuleActionFields,
            UnsupportedRuleFields) { Explain = ExplainUnsupported });

    private static string? ExplainUnsupported(string field) => field == "outbound"
        ? "matching the outbound a lookup is for was replaced in sing-box 1.12: name the server for proxy servers' names in "
            + "route.default_domain_resolver (for \"any\") or in the outbound's domain_resolver, or run `sluice check --fix -o new.json`"
        : null;

    private static DefaultDnsRuleOptions ParseDefaultRule(ObjectReader r, ConfigBuilder config)
    {
        var inbound = r.Strings("inbound");
        foreach (string tag in inbound) config.ReferenceInbound(tag, r.PathOf("inbound"));
        return new DefaultDnsRuleOptions
        {
            Inbound = inbound,
            QueryType = r.List("query_type", QueryTypeItem),
            Domain = r.List("domain", RuleParser.DomainItem),
            DomainSuffix = r.List("domain_suffix", RuleParser.DomainItem),
            DomainKeyword = r.List("domain_keyword", RuleParser.NonEmpty),
            DomainRegex = r.List("domain_regex", (e, p, errs) => RuleParser.RegexItem(e, p, errs, RuleParser.DomainRegexOptions)),
            ProcessName = r.List("process_name", RuleParser.NonEmpty),
            ProcessPath = r.List("process_path", RuleParser.NonEmpty),
            ProcessPathRegex = r.List("process_path_regex", (e, p, errs) => RuleParser.RegexItem(e, p, errs, RuleParser.PathRegexOptions)),
            UserId = r.List("user_id", (e, p, errs) => ObjectReader.ReadInteger(e, p, 0, uint.MaxValue, errs) is { } n ? new Optional<uint>((uint)n) : default),
            RuleSet = RuleSetItems.ReadReferences(r, config),
            RuleSetIpCidrMatchSource = RuleSetItems.ReadMatchSource(r),
            ClashMode = RuleSetItems.ReadClashMode(r),
            IpCidr = r.List("ip_cidr", InboundSection.CidrItem),
            IpIsPrivate = r.Bool("ip_is_private", false),
            IpAcceptAny = r.Bool("ip_accept_any", false),
            RuleSetIpCidrAcceptEmpty = r.Bool("rule_set_ip_cidr_accept_empty", false),
        };
    }

    /// <summary>
    /// Address filters decide a rule after its server answered, so they need a route action, and Sluice takes them
    /// only in plain rules that are not inverted (sing-box's logical and inverted forms have no settled meaning here).
    /// </summary>
    private static void CheckAddressFilters(DnsRuleOptions rule, string path, ErrorList errors)
    {
        switch (rule)
        {
            case DefaultDnsRuleOptions { HasAddressFilter: true } d:
                if (d.Invert) errors.Add(path + ".invert", "an inverted rule with ip_cidr, ip_is_private or ip_accept_any is not supported by Sluice yet");
                if (d.Action is not DnsRouteAction) errors.Add(path, "ip_cidr, ip_is_private and ip_accept_any test the answer of the rule's server: they need \"action\": \"route\"");
                break;
            case LogicalDnsRuleOptions l when l.Rules.Any(HasAddressFilter):
                errors.Add(path, "ip_cidr, ip_is_private or ip_accept_any inside a logical DNS rule is not supported by Sluice yet; write a plain rule");
                break;
        }
    }

    private static bool HasAddressFilter(DnsRuleOptions rule) => rule switch
    {
        DefaultDnsRuleOptions d => d.HasAddressFilter,
        LogicalDnsRuleOptions l => l.Rules.Any(HasAddressFilter),
        _ => false,
    };

    private static DnsRuleAction? ParseRuleAction(ObjectReader r, List<(string, string)> serverReferences)
    {
        var errors = r.Errors;
        string? action = r.String("action");
        if (action is null && r.Has("action")) return null;
        action ??= r.Has("server") ? "route" : null;
        if (action is null)
        {
            errors.Add(r.Path, "missing \"server\" (or an \"action\": route, reject, predefined)");
            return null;
        }
        DnsRuleAction? result;
        switch (action)
        {
            case "route":
                string? server = r.String("server");
                if (server is null && !r.Has("server")) errors.Add(r.PathOf("server"), "required for action \"route\"");
                if (server is not null) serverReferences.Add((server, r.PathOf("server")));
                var strategy = ParseStrategy(r, "strategy");
                bool disableCache = r.Bool("disable_cache", false);
                var subnet = ReadClientSubnet(r);
                uint? rewriteTtl = r.Integer("rewrite_ttl", 0, int.MaxValue) is { } ttl ? (uint)ttl : null;
                result = server is null ? null : new DnsRouteAction(server, strategy, disableCache) { ClientSubnet = subnet, RewriteTtl = rewriteTtl };
                break;
            case "reject":
                string method = r.String("method") ?? "default";
                if (method is not ("default" or "drop"))
                    errors.Add(r.PathOf("method"), $"unknown method {JsonPath.Quote(method)} (expected \"default\" or \"drop\")");
                r.Bool("no_drop", false); // sing-box's flood guard; Sluice answers every rejected query as configured
                result = new DnsRejectAction(method == "drop");
                break;
            case "predefined":
                var rcode = DnsRcode.NoError;
                if (r.String("rcode") is { } rc)
                {
                    int found = Array.FindIndex(Rcodes, x => x.Name.Equals(rc, StringComparison.OrdinalIgnoreCase));
                    if (found < 0) errors.Add(r.PathOf("rcode"), $"unknown rcode {JsonPath.Quote(rc)} (expected one of {string.Join(", ", Rcodes.Select(x => x.Name))})");
                    else rcode = Rcodes[found].Code;
                }
                result = new DnsPredefinedAction(rcode, r.List("answer", RecordItem), r.List("ns", RecordItem), r.List("extra", RecordItem));
                break;
            case "route-options":
                errors.Add(r.PathOf("action"), $"action \"route-options\" is not supported by Sluice yet (supported: {string.Join(", ", RuleActions)})");
                return null;
            default:
                errors.Add(r.PathOf("action"), $"unknown action {JsonPath.Quote(action)} (expected one of {string.Join(", ", RuleActions)})");
                return null;
        }
        foreach (var (field, owner) in new[]
                 {
                     ("server", "route"), ("strategy", "route"), ("disable_cache", "route"), ("client_subnet", "route"), ("method", "reject"), ("no_drop", "reject"),
                     ("rcode", "predefined"), ("answer", "predefined"), ("ns", "predefined"), ("extra", "predefined"),
                 })
        {
            if (owner != action && r.Take(field) is not null)
                errors.Add(r.PathOf(field), $"only allowed with \"action\": {JsonPath.Quote(owner)}, this rule's action is {JsonPath.Quote(action)}");
        }
        return result;
    }

    private static Optional<string> RecordItem(JsonElement e, string path, ErrorList errors)
    {
        if (ObjectReader.StringItem(e, path, errors) is not { HasValue: true } s) return default;
        if (DnsRecordText.TryEncode(s.Value, out string? error) is not null) return s;
        errors.Add(path, error!);
        return default;
    }

    /// <summary>A type name ("AAAA", "HTTPS") or number, as sing-box's query_type.</summary>
    internal static Optional<ushort> QueryTypeItem(JsonElement e, string path, ErrorList errors)
    {
        if (e.ValueKind == JsonValueKind.Number)
            return ObjectReader.ReadInteger(e, path, 0, 65535, errors) is { } n ? new Optional<ushort>((ushort)n) : default;
        if (ObjectReader.StringItem(e, path, errors) is not { HasValue: true } s) return default;
        if (DnsType.TryParse(s.Value, out ushort type)) return type;
        if (ushort.TryParse(s.Value, NumberStyles.None, CultureInfo.InvariantCulture, out type)) return type;
        errors.Add(path, $"unknown query type {JsonPath.Quote(s.Value)} (a name such as \"A\", \"AAAA\", \"HTTPS\", or a number)");
        return default;
    }

}
