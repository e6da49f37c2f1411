using Sluice.Core.Tun;

namespace Sluice.Core.RuleSets;

/// <summary>
/// A plain list, one entry a line, into a rule set (`sluice rule-set convert`): an IP or CIDR is an
/// ip_cidr; a name is a domain_suffix (the name and its subdomains, as such lists mean); the
/// domain-list-community prefixes "full:", "domain:", "keyword:" and "regexp:" pick domain,
/// domain_suffix, domain_keyword, domain_regex. Blank lines and lines starting with '#' are skipped;
/// a trailing " @attr" or "#comment" is dropped.
/// </summary>
public static class PlainListConverter
{
    /// <exception cref="RuleSetFormatException">A line is none of these; the message names the line.</exception>
    public static RuleSetContent Convert(IEnumerable<string> lines, byte version = 2)
    {
        var domain = new List<string>();
        var suffix = new List<string>();
        var keyword = new List<string>();
        var regex = new List<string>();
        var cidr = new List<IpPrefix>();
        int number = 0;
        foreach (string raw in lines)
        {
            number++;
            string line = raw.Trim();
            int comment = line.IndexOf('#');
            if (comment >= 0) line = line[..comment].Trim();
            int attribute = line.IndexOf(" @", StringComparison.Ordinal);
            if (attribute >= 0) line = line[..attribute].Trim();
            if (line.Length == 0) continue;
            if (IpPrefix.TryParse(line, out var prefix)) cidr.Add(prefix);
            else if (line.StartsWith("full:", StringComparison.Ordinal)) domain.Add(Name(line[5..], number));
            else if (line.StartsWith("domain:", StringComparison.Ordinal)) suffix.Add(Name(line[7..], number));
            else if (line.StartsWith("keyword:", StringComparison.Ordinal)) keyword.Add(NonEmpty(line[8..], number));
            else if (line.StartsWith("regexp:", StringComparison.Ordinal)) regex.Add(Regex(line[7..], number));
            else suffix.Add(Name(line, number));
        }
        var rule = new DefaultHeadlessRule { Domain = domain, DomainSuffix = suffix, DomainKeyword = keyword, DomainRegex = regex, IpCidr = cidr };
        if (rule.IsEmpty) throw new RuleSetFormatException("the list has no entries");
        return new RuleSetContent(version, [rule]);
    }

    private static string Name(string text, int line)
    {
        string name = text.Trim().TrimEnd('.');
        if (name.Length == 0 || name.Length > 253 || name.Any(c => c is ' ' or '/' or ':' or '*' || char.IsControl(c)))
            throw new RuleSetFormatException($"line {line}: \"{text}\" is not a domain name, an IP address or a CIDR");
        return name.ToLowerInvariant();
    }

    private static string NonEmpty(string text, int line) =>
        text.Length > 0 ? text : throw new RuleSetFormatException($"line {line}: empty keyword");

    private static string Regex(string text, int line)
    {
        try
        {
            _ = new System.Text.RegularExpressions.Regex(text, Configuration.RuleParser.DomainRegexOptions);
            return text;
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException)
        {
            throw new RuleSetFormatException($"line {line}: \"{text}\" is not a valid regular expression: {e.Message}");
        }
    }
}
