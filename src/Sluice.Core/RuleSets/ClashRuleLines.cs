using System.Globalization;
using System.Text.RegularExpressions;
using Sluice.Core.Tun;

namespace Sluice.Core.RuleSets;

/// <summary>
/// Clash rule lines ("DOMAIN-SUFFIX,google.com", "IP-CIDR,10.0.0.0/8,no-resolve", "DST-PORT,6000-6100") gathered into
/// sing-box headless rules: one rule per field, so lines stay OR-ed as in a Clash rule provider. Shared by rule
/// providers (behavior "classical") and `sluice import` of a Clash config's route rules. Extra parameters after the
/// value (no-resolve, src) change nothing here: a rule set never resolves a name to match an address.
/// </summary>
public sealed class ClashRuleLines
{
    private readonly List<string> _domain = [], _suffix = [], _keyword = [], _regex = [], _processName = [], _processPath = [], _processPathRegex = [];
    private readonly List<string> _network = [], _portRange = [], _sourcePortRange = [];
    private readonly List<IpPrefix> _cidr = [], _sourceCidr = [];
    private readonly List<ushort> _port = [], _sourcePort = [];

    /// <summary>What became of one line.</summary>
    public enum Outcome { Added, UnsupportedType }

    /// <summary>Adds one rule of <paramref name="type"/> (upper case) with <paramref name="value"/>.</summary>
    /// <exception cref="RuleSetFormatException">The type is one Sluice matches but the value is not valid for it.</exception>
    public Outcome Add(string type, string value)
    {
        switch (type)
        {
            case "DOMAIN": _domain.Add(Name(value)); break;
            case "DOMAIN-SUFFIX": _suffix.Add(Name(value)); break;
            case "DOMAIN-KEYWORD": _keyword.Add(value.Length > 0 ? value.ToLowerInvariant() : throw new RuleSetFormatException("an empty keyword")); break;
            case "DOMAIN-REGEX": _regex.Add(CheckedRegex(value, Configuration.RuleParser.DomainRegexOptions)); break;
            case "IP-CIDR" or "IP-CIDR6": _cidr.Add(Prefix(value)); break;
            case "SRC-IP-CIDR": _sourceCidr.Add(Prefix(value)); break;
            case "DST-PORT": Ports(value, _port, _portRange); break;
            case "SRC-PORT": Ports(value, _sourcePort, _sourcePortRange); break;
            case "PROCESS-NAME": _processName.Add(value.Length > 0 ? value : throw new RuleSetFormatException("an empty process name")); break;
            case "PROCESS-PATH": _processPath.Add(value.Length > 0 ? value : throw new RuleSetFormatException("an empty process path")); break;
            case "PROCESS-PATH-REGEX": _processPathRegex.Add(CheckedRegex(value, Configuration.RuleParser.PathRegexOptions)); break;
            case "NETWORK":
                string network = value.ToLowerInvariant();
                _network.Add(network is "tcp" or "udp" ? network : throw new RuleSetFormatException($"\"{value}\" is not a network (tcp or udp)"));
                break;
            default: return Outcome.UnsupportedType;
        }
        return Outcome.Added;
    }

    /// <summary>A "TYPE,VALUE[,PARAMS]" line; <paramref name="type"/> is its first field in upper case.</summary>
    /// <exception cref="RuleSetFormatException">No value, or a value not valid for its type.</exception>
    public Outcome AddLine(string line, out string type)
    {
        var parts = line.Split(',', 3, StringSplitOptions.TrimEntries);
        type = parts[0].ToUpperInvariant();
        if (parts.Length < 2 || parts[1].Length == 0) throw new RuleSetFormatException($"\"{line}\" has no value (expected TYPE,VALUE)");
        return Add(type, parts[1]);
    }

    /// <summary>One rule per field that has values, in sing-box's field order.</summary>
    public List<HeadlessRule> Rules()
    {
        var rules = new List<HeadlessRule>();
        if (_network.Count > 0) rules.Add(new DefaultHeadlessRule { Network = _network });
        if (_domain.Count > 0) rules.Add(new DefaultHeadlessRule { Domain = _domain });
        if (_suffix.Count > 0) rules.Add(new DefaultHeadlessRule { DomainSuffix = _suffix });
        if (_keyword.Count > 0) rules.Add(new DefaultHeadlessRule { DomainKeyword = _keyword });
        if (_regex.Count > 0) rules.Add(new DefaultHeadlessRule { DomainRegex = _regex });
        if (_sourceCidr.Count > 0) rules.Add(new DefaultHeadlessRule { SourceIpCidr = _sourceCidr });
        if (_cidr.Count > 0) rules.Add(new DefaultHeadlessRule { IpCidr = _cidr });
        if (_sourcePort.Count > 0) rules.Add(new DefaultHeadlessRule { SourcePort = _sourcePort });
        if (_sourcePortRange.Count > 0) rules.Add(new DefaultHeadlessRule { SourcePortRange = _sourcePortRange });
        if (_port.Count > 0) rules.Add(new DefaultHeadlessRule { Port = _port });
        if (_portRange.Count > 0) rules.Add(new DefaultHeadlessRule { PortRange = _portRange });
        if (_processName.Count > 0) rules.Add(new DefaultHeadlessRule { ProcessName = _processName });
        if (_processPath.Count > 0) rules.Add(new DefaultHeadlessRule { ProcessPath = _processPath });
        if (_processPathRegex.Count > 0) rules.Add(new DefaultHeadlessRule { ProcessPathRegex = _processPathRegex });
        return rules;
    }

    /// <summary>Domain-behavior entries (Clash wildcards): "+.x" is x and every subdomain, ".x" every subdomain,
    /// "*" one label ("*.x", "*.*.x", "a.*.x"), anything else the name itself.</summary>
    /// <exception cref="RuleSetFormatException">Not a name, or a star inside a label ("a*.x").</exception>
    public void AddDomainPattern(string entry)
    {
        if (entry.StartsWith("+.", StringComparison.Ordinal)) _suffix.Add(Name(entry[2..]));
        else if (entry.StartsWith('.') && !entry.Contains('*')) _suffix.Add("." + Name(entry[1..]));
        else if (!entry.Contains('*')) _domain.Add(Name(entry));
        else _regex.Add(WildcardRegex(entry));
    }

    /// <summary>An ipcidr-behavior entry: an address or a CIDR.</summary>
    public void AddCidr(string entry) => _cidr.Add(Prefix(entry));

    private static string WildcardRegex(string pattern)
    {
        var labels = pattern.TrimEnd('.').Split('.');
        var parts = new List<string>();
        foreach (string label in labels)
        {
            if (label == "*") parts.Add("[^.]+");
            else if (label.Length > 0 && !label.Contains('*')) parts.Add(Regex.Escape(Name(label)));
            else throw new RuleSetFormatException($"\"{pattern}\" is not a Clash domain pattern (a \"*\" stands for one whole label, as in \"*.example.com\")");
        }
        return "^" + string.Join(@"\.", parts) + "$";
    }

    private static string Name(string text)
    {
        string name = text.Trim().TrimEnd('.');
        if (name.Length == 0 || name.Length > 253 || name.Any(c => c is ' ' or '/' or ':' or '*' or ',' || char.IsControl(c)))
            throw new RuleSetFormatException($"\"{text}\" is not a domain name");
        return name.ToLowerInvariant();
    }

    private static IpPrefix Prefix(string text) =>
        IpPrefix.TryParse(text, out var prefix) ? prefix : throw new RuleSetFormatException($"\"{text}\" is not an IP address or CIDR");

    private static string CheckedRegex(string text, RegexOptions options)
    {
        try
        {
            _ = new Regex(text, options);
            return text;
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException)
        {
            throw new RuleSetFormatException($"\"{text}\" is not a regular expression Sluice can use: {e.Message}");
        }
    }

    /// <summary>"443", "6000-6100", or several joined by "/" (mihomo's "80/443/8000-8100").</summary>
    private static void Ports(string text, List<ushort> ports, List<string> ranges)
    {
        foreach (string item in text.Split('/', StringSplitOptions.TrimEntries))
        {
            int dash = item.IndexOf('-');
            if (dash < 0 && ushort.TryParse(item, NumberStyles.None, CultureInfo.InvariantCulture, out ushort port))
            {
                ports.Add(port);
                continue;
            }
            if (dash > 0 && ushort.TryParse(item[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out ushort start)
                && ushort.TryParse(item[(dash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out ushort end) && start <= end)
            {
                ranges.Add($"{start}:{end}");
                continue;
            }
            throw new RuleSetFormatException($"\"{text}\" is not a port, a range like 6000-6100, or several joined by \"/\"");
        }
    }
}
