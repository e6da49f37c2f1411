using System.Text;
using System.Text.RegularExpressions;
using Sluice.Core.RuleSets.Srs;

namespace Sluice.Core.RuleSets.Mrs;

/// <summary>
/// What the keys of a mihomo domain set match, as mihomo's matcher (component/trie, DomainSet.Has) reads them, made
/// into domain / domain_suffix / domain_regex lists. A key is a name reversed rune by rune; mihomo lowercases the name
/// asked about, reverses it and walks the trie with it:
/// - a key the whole name equals matches: "example.com" is that name only;
/// - a '+' in a key is a match as soon as the walk reaches it with more of the name left: "+.example.com" is every
///   subdomain of example.com, not example.com itself (mihomo's converter writes a list's "+.x" as the two keys "x" and
///   "+.x", its ".x" as "+.x" alone); any "…+S" is every name that ends in S and is longer than S;
/// - a '*' label is exactly one label ("*.example.com", "a.*.example.com"), as in mihomo's rule syntax.
/// Keys that no host name can match in mihomo either are left out and counted: upper case (the name asked about is
/// lowercased), an empty label, a '*' inside a label, bytes that are not UTF-8.
/// One difference, for '*' keys only (MetaCubeX's lists have none): mihomo's walker does not go back to a '*' after a
/// longer literal key took the name to its end ("*.example.com" beside "ab.example.com" misses "a.example.com" there),
/// and it reads past a node when a name is longer than a final-'*' key; Sluice matches the label as the syntax says.
/// </summary>
internal static class MrsDomainKeys
{
    /// <exception cref="RuleSetFormatException">No key that Sluice can match.</exception>
    public static RuleSetContent Content(IEnumerable<byte[]> keys)
    {
        var exact = new SortedSet<string>(StringComparer.Ordinal);
        var subdomainsOf = new SortedSet<string>(StringComparer.Ordinal);
        var patterns = new SortedSet<string>(StringComparer.Ordinal);
        var utf8 = new UTF8Encoding(false, true);
        int skipped = 0;
        foreach (byte[] key in keys)
        {
            string name;
            try
            {
                name = DomainKeys.Reverse(utf8.GetString(key));
            }
            catch (DecoderFallbackException)
            {
                skipped++;
                continue;
            }
            if (!Add(name, exact, subdomainsOf, patterns)) skipped++;
        }

        // "x" beside "+.x" is the name and every subdomain: one domain_suffix "x"; "+.x" alone is ".x".
        var suffixes = subdomainsOf.Select(s => exact.Remove(s) ? s : "." + s).ToList();
        var rules = new List<HeadlessRule>();
        if (exact.Count > 0) rules.Add(new DefaultHeadlessRule { Domain = exact.ToList() });
        if (suffixes.Count > 0) rules.Add(new DefaultHeadlessRule { DomainSuffix = suffixes });
        if (patterns.Count > 0) rules.Add(new DefaultHeadlessRule { DomainRegex = patterns.ToList() });
        string? note = skipped == 0 ? null
            : $"{skipped} key(s) skipped that no host name matches in mihomo either (upper case, an empty label, a '*' inside a label, not UTF-8)";
        if (rules.Count == 0) throw new RuleSetFormatException($"no key Sluice can match: {note}");
        return new RuleSetContent(2, rules) { Skipped = note };
    }

    /// <returns>False when no host name can match the key.</returns>
    private static bool Add(string name, SortedSet<string> exact, SortedSet<string> subdomainsOf, SortedSet<string> patterns)
    {
        if (!name.Equals(name.ToLowerInvariant(), StringComparison.Ordinal)) return false;
        int plus = name.LastIndexOf('+');
        string tail = plus < 0 ? name : name[(plus + 1)..];
        string[] labels = tail.Split('.');
        for (int i = 0; i < labels.Length; i++)
        {
            // After a '+', the first label is the end of a label whose start is free ("" for "+.x").
            bool partial = plus >= 0 && i == 0;
            if (labels[i].Length == 0 && !partial) return false;
            if (labels[i].Contains('*') && (partial || labels[i] != "*")) return false;
        }
        bool star = tail.Contains('*');
        if (plus < 0 && !star)
        {
            exact.Add(name);
            return true;
        }
        if (plus >= 0 && !star && labels.Length > 1 && labels[0].Length == 0)
        {
            subdomainsOf.Add(tail[1..]);
            return true;
        }
        var pattern = new StringBuilder(plus < 0 ? "^" : "^.+");
        for (int i = 0; i < labels.Length; i++)
        {
            if (i > 0) pattern.Append(@"\.");
            pattern.Append(labels[i] == "*" ? "[^.]+" : Regex.Escape(labels[i]));
        }
        patterns.Add(pattern.Append('$').ToString());
        return true;
    }
}
