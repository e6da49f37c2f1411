using System.Text;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Sluice.Core.RuleSets;

/// <summary>A Clash rule provider's behavior: what each entry of its payload is.</summary>
public enum ClashBehavior { Domain, IpCidr, Classical }

/// <summary>
/// A Clash/mihomo rule provider's body as a rule set (route.rule_set "format": "clash-domain", "clash-ipcidr",
/// "clash-classical"; docs/config.md#rule-sets). Both of its text formats are read, told apart by content:
/// YAML ("payload:" and a list) and text (one entry a line, '#' comments). Behavior domain takes Clash wildcards
/// (<see cref="ClashRuleLines.AddDomainPattern"/>), ipcidr addresses and CIDRs, classical rule lines without a target.
/// A classical line of a type Sluice cannot match (GEOIP, IP-ASN, …) is skipped and counted in the set's summary,
/// which the log prints: the rest of the set still applies. A malformed entry refuses the body, naming its line.
/// mihomo's binary .mrs body is refused here, naming the format that reads it ("mrs").
/// </summary>
public static class ClashRuleProvider
{
    /// <summary>"domain", "ipcidr", "classical" (Clash's words).</summary>
    public static bool TryParseBehavior(string? text, out ClashBehavior behavior)
    {
        switch (text?.ToLowerInvariant())
        {
            case "domain": behavior = ClashBehavior.Domain; return true;
            case "ipcidr": behavior = ClashBehavior.IpCidr; return true;
            case "classical": behavior = ClashBehavior.Classical; return true;
            default: behavior = default; return false;
        }
    }

    public static string Name(ClashBehavior behavior) => behavior switch
    {
        ClashBehavior.Domain => "domain",
        ClashBehavior.IpCidr => "ipcidr",
        _ => "classical",
    };

    /// <exception cref="RuleSetFormatException">Not a provider body of that behavior; the message names the line.</exception>
    public static RuleSetContent Read(ReadOnlySpan<byte> body, ClashBehavior behavior)
    {
        if (Mrs.MrsReader.LooksBinary(body))
            throw new RuleSetFormatException("this is a mihomo binary (.mrs) rule set, but the format says a Clash provider's yaml or text: set \"format\": \"mrs\"");
        string text;
        try
        {
            text = new UTF8Encoding(false, true).GetString(body).TrimStart('\uFEFF');
        }
        catch (DecoderFallbackException)
        {
            throw new RuleSetFormatException("a Clash rule provider is YAML or text, and this is not UTF-8");
        }
        return Convert(Entries(text), behavior);
    }

    /// <summary>The payload's entries with their line numbers (1-based), from either text format.</summary>
    public static IEnumerable<(string Entry, long Line)> Entries(string text) => IsYaml(text) ? YamlEntries(text) : TextEntries(text);

    /// <exception cref="RuleSetFormatException">An entry is not valid for the behavior, or none is left.</exception>
    public static RuleSetContent Convert(IEnumerable<(string Entry, long Line)> entries, ClashBehavior behavior)
    {
        var lines = new ClashRuleLines();
        var skipped = new SortedDictionary<string, (int Count, long FirstLine)>(StringComparer.Ordinal);
        foreach (var (entry, line) in entries)
        {
            try
            {
                switch (behavior)
                {
                    case ClashBehavior.Domain: lines.AddDomainPattern(entry); break;
                    case ClashBehavior.IpCidr: lines.AddCidr(entry); break;
                    default:
                        if (lines.AddLine(entry, out string type) == ClashRuleLines.Outcome.UnsupportedType)
                            skipped[type] = skipped.TryGetValue(type, out var s) ? (s.Count + 1, s.FirstLine) : (1, line);
                        break;
                }
            }
            catch (RuleSetFormatException e)
            {
                throw new RuleSetFormatException($"line {line}: {e.Message}");
            }
        }
        string? note = skipped.Count == 0 ? null
            : $"{skipped.Values.Sum(s => s.Count)} line(s) skipped, types Sluice does not match: "
              + string.Join(", ", skipped.Select(s => $"{s.Key} ×{s.Value.Count} (first at line {s.Value.FirstLine})"));
        var rules = lines.Rules();
        if (rules.Count == 0) throw new RuleSetFormatException(note is null ? "the provider has no entries" : $"no entry Sluice can match: {note}");
        return new RuleSetContent(2, rules) { Skipped = note };
    }

    private static bool IsYaml(string text)
    {
        foreach (var raw in text.AsSpan().EnumerateLines())
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#' || line.SequenceEqual("---")) continue;
            return line.StartsWith("payload:", StringComparison.Ordinal);
        }
        return false;
    }

    private static IEnumerable<(string, long)> TextEntries(string text)
    {
        long number = 0;
        foreach (string raw in text.Split('\n'))
        {
            number++;
            string line = raw.Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            yield return (line, number);
        }
    }

    /// <summary>The scalars of the top-level "payload" list, read from the event stream (no tree is built, nothing recurses).</summary>
    private static List<(string, long)> YamlEntries(string text)
    {
        var entries = new List<(string, long)>();
        var parser = new Parser(new StringReader(text));
        int depth = 0;
        bool expectKey = true, valueIsPayload = false, inPayload = false;
        try
        {
            while (parser.MoveNext())
            {
                var current = parser.Current!;
                switch (current)
                {
                    case MappingStart or SequenceStart:
                        if (depth == 1 && valueIsPayload)
                        {
                            if (current is not SequenceStart) throw new RuleSetFormatException($"line {current.Start.Line}: \"payload:\" is not a list");
                            inPayload = true;
                        }
                        else if (depth == 2 && inPayload)
                        {
                            throw new RuleSetFormatException($"line {current.Start.Line}: a payload entry is one string, not a list or mapping");
                        }
                        if (++depth > 32) throw new RuleSetFormatException($"line {current.Start.Line}: nested deeper than 32 levels");
                        break;
                    case MappingEnd or SequenceEnd:
                        if (--depth == 1) (inPayload, valueIsPayload, expectKey) = (false, false, true);
                        break;
                    case Scalar scalar when depth == 1:
                        if (expectKey)
                        {
                            valueIsPayload = scalar.Value == "payload";
                            expectKey = false;
                        }
                        else
                        {
                            if (valueIsPayload && scalar.Value.Length > 0) throw new RuleSetFormatException($"line {current.Start.Line}: \"payload:\" is not a list");
                            (valueIsPayload, expectKey) = (false, true);
                        }
                        break;
                    case Scalar scalar when depth == 2 && inPayload:
                        if (scalar.Value.Trim().Length > 0) entries.Add((scalar.Value.Trim(), current.Start.Line));
                        break;
                }
            }
        }
        catch (YamlException e)
        {
            throw new RuleSetFormatException($"line {e.Start.Line}: not valid YAML: {e.InnerException?.Message ?? e.Message}");
        }
        return entries;
    }
}
