using System.Text.Json;
using Sluice.Core.Configuration;

namespace Sluice.Core.RuleSets;

/// <summary>
/// The JSON rule-set source (sing-box "source" format): {"version": 1–4, "rules": [headless rules]}.
/// Headless rules are route rules without an action; the same reader serves inline rule sets in a config.
/// </summary>
public static class SourceRuleSet
{
    private static readonly string[] NetworkTypes = ["wifi", "cellular", "ethernet", "other"];

    private static readonly HashSet<string> Unsupported = new(StringComparer.Ordinal)
    {
        "network_interface_address", "default_interface_address",
    };

    private static readonly JsonDocumentOptions DocumentOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        MaxDepth = 64,
    };

    /// <summary>Parses a whole source file; throws <see cref="RuleSetFormatException"/> listing every error with its JSON path.</summary>
    public static RuleSetContent Read(string json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, DocumentOptions);
        }
        catch (JsonException e)
        {
            throw new RuleSetFormatException($"invalid JSON at line {(e.LineNumber ?? 0) + 1}: {e.Message.Split(" LineNumber:")[0]}");
        }
        using (document)
        {
            var errors = new ErrorList();
            RuleSetContent? content = null;
            if (ObjectReader.Open(document.RootElement, "", errors) is { } r)
            {
                long? version = r.Integer("version", 1, RuleSetContent.MaxVersion);
                if (version is null && !r.Has("version")) errors.Add("version", $"required: the rule-set version (1–{RuleSetContent.MaxVersion})");
                var rules = ReadRules(r, "rules", errors);
                r.Finish();
                if (version is { } v) content = new RuleSetContent((byte)v, rules);
            }
            if (errors.Count > 0 || content is null)
                throw new RuleSetFormatException(string.Join("; ", errors.Items.Select(e => e.ToString())));
            return content;
        }
    }

    /// <summary>The "rules" array of an object (a source file, or an inline rule set in a config).</summary>
    internal static List<HeadlessRule> ReadRules(ObjectReader r, string name, ErrorList errors)
    {
        var rules = new List<HeadlessRule>();
        if (r.Take(name) is not { } element) return rules;
        string path = r.PathOf(name);
        if (element.ValueKind != JsonValueKind.Array)
        {
            ObjectReader.TypeError(path, "an array of rules", element, errors);
            return rules;
        }
        int i = 0;
        foreach (var item in element.EnumerateArray())
        {
            if (ParseRule(item, JsonPath.Index(path, i++), errors) is { } rule) rules.Add(rule);
        }
        return rules;
    }

    private static HeadlessRule? ParseRule(JsonElement element, string path, ErrorList errors) =>
        RuleFrame.Parse(element, path, errors, topLevel: false, new RuleFrame.Kind<HeadlessRule, object>(
            r => ParseDefault(r),
            (mode, rules) => new LogicalHeadlessRule(mode, rules),
            _ => null,
            (rule, invert, _) => rule with { Invert = invert },
            [],
            Unsupported));

    private static DefaultHeadlessRule? ParseDefault(ObjectReader r)
    {
        foreach (string field in new[] { "action", "outbound", "server" })
        {
            if (r.Take(field) is not null)
                r.Errors.Add(r.PathOf(field), "a rule set's rules have no action: the route or DNS rule that names the set (\"rule_set\") has it");
        }
        var rule = new DefaultHeadlessRule
        {
            QueryType = r.List("query_type", DnsSection.QueryTypeItem),
            Network = r.List("network", (e, p, errs) => RuleParser.OneOf(e, p, errs, ["tcp", "udp", "icmp"], "network")),
            Domain = r.List("domain", DomainText),
            DomainSuffix = r.List("domain_suffix", DomainText),
            DomainKeyword = r.List("domain_keyword", RuleParser.NonEmpty),
            DomainRegex = r.List("domain_regex", (e, p, errs) => RuleParser.RegexItem(e, p, errs, RuleParser.DomainRegexOptions)),
            SourceIpCidr = r.List("source_ip_cidr", InboundSection.CidrItem),
            IpCidr = r.List("ip_cidr", InboundSection.CidrItem),
            SourcePort = r.List("source_port", RuleParser.PortItem),
            SourcePortRange = r.List("source_port_range", PortRangeText),
            Port = r.List("port", RuleParser.PortItem),
            PortRange = r.List("port_range", PortRangeText),
            ProcessName = r.List("process_name", RuleParser.NonEmpty),
            ProcessPath = r.List("process_path", RuleParser.NonEmpty),
            ProcessPathRegex = r.List("process_path_regex", (e, p, errs) => RuleParser.RegexItem(e, p, errs, RuleParser.PathRegexOptions)),
            PackageName = r.List("package_name", RuleParser.NonEmpty),
            NetworkType = r.List("network_type", NetworkTypeItem),
            NetworkIsExpensive = r.Bool("network_is_expensive", false),
            NetworkIsConstrained = r.Bool("network_is_constrained", false),
            WifiSsid = r.List("wifi_ssid", RuleParser.NonEmpty),
            WifiBssid = r.List("wifi_bssid", RuleParser.NonEmpty),
        };
        if (rule.IsEmpty)
            r.Errors.Add(r.Path, "a rule without any condition (sing-box refuses it too): add domain, ip_cidr or another item");
        return rule;
    }

    /// <summary>A domain kept as written (a compiled file carries it unchanged); the matcher lowercases.</summary>
    private static Optional<string> DomainText(JsonElement e, string path, ErrorList errors) =>
        RuleParser.DomainItem(e, path, errors) is { HasValue: true } ? new Optional<string>(e.GetString()!) : default;

    /// <summary>A port range checked, then kept as written ("1000:", ":80") as sing-box stores it.</summary>
    private static Optional<string> PortRangeText(JsonElement e, string path, ErrorList errors) =>
        RuleParser.PortRangeItem(e, path, errors) is { HasValue: true } ? new Optional<string>(e.GetString()!) : default;

    private static Optional<byte> NetworkTypeItem(JsonElement e, string path, ErrorList errors)
    {
        if (e.ValueKind == JsonValueKind.Number)
            return ObjectReader.ReadInteger(e, path, 0, 3, errors) is { } n ? new Optional<byte>((byte)n) : default;
        if (RuleParser.OneOf(e, path, errors, NetworkTypes, "network_type") is not { HasValue: true } s) return default;
        return (byte)Array.IndexOf(NetworkTypes, s.Value);
    }

    internal static string NetworkTypeName(byte value) => value < NetworkTypes.Length ? NetworkTypes[value] : value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
