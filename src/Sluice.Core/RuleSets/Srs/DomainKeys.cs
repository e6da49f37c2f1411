using System.Text;

namespace Sluice.Core.RuleSets.Srs;

/// <summary>
/// How domain and domain_suffix become keys of the succinct set (sing's domain matcher): each name is
/// reversed rune by rune, so a suffix is a key prefix. A marker rune in front of the name says what
/// the key means:
/// - none: exactly that name;
/// - '\n' (root label): the name and every subdomain — domain_suffix "example.org" from version 2 on;
/// - '\r' (prefix label): every name that ends with the rest — domain_suffix ".example.org" (subdomains
///   only); version 1 wrote "example.org" as the exact name plus "\r.example.org".
/// </summary>
internal static class DomainKeys
{
    public const char PrefixLabel = '\r';
    public const char RootLabel = '\n';

    /// <summary>The sorted, distinct keys sing-box's writer puts in the set for these lists.</summary>
    public static List<byte[]> Build(IReadOnlyList<string> domains, IReadOnlyList<string> suffixes, bool legacy)
    {
        var keys = new List<string>(domains.Count + 2 * suffixes.Count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string suffix in suffixes)
        {
            if (!seen.Add(suffix)) continue;
            if (suffix.StartsWith('.'))
            {
                keys.Add(Reverse(PrefixLabel + suffix));
            }
            else if (legacy)
            {
                keys.Add(Reverse(suffix));
                if (seen.Add("." + suffix)) keys.Add(Reverse(PrefixLabel + "." + suffix));
            }
            else
            {
                keys.Add(Reverse(RootLabel + suffix));
            }
        }
        foreach (string domain in domains)
        {
            if (seen.Add(domain)) keys.Add(Reverse(domain));
        }
        var bytes = keys.Select(k => Encoding.UTF8.GetBytes(k)).ToList();
        bytes.Sort((a, b) => a.AsSpan().SequenceCompareTo(b));
        return bytes;
    }

    /// <summary>
    /// Back to lists, as sing-box's decompiler does: an exact name with a matching "\r." prefix key is
    /// one domain_suffix (the version-1 form); names and suffixes sorted.
    /// </summary>
    /// <param name="rawSuffixes">Prefix keys without a leading dot ("ends with" on the raw string); sing-box's writer never makes them.</param>
    public static (List<string> Domains, List<string> Suffixes, List<string> RawSuffixes) Dump(IEnumerable<byte[]> keys)
    {
        var exact = new SortedSet<string>(StringComparer.Ordinal);
        var prefixes = new List<string>();
        var suffixes = new List<string>();
        var raw = new List<string>();
        foreach (byte[] key in keys)
        {
            string name = Reverse(Encoding.UTF8.GetString(key));
            if (name.Length > 0 && name[0] == PrefixLabel) prefixes.Add(name[1..]);
            else if (name.Length > 0 && name[0] == RootLabel) suffixes.Add(name[1..]);
            else exact.Add(name);
        }
        foreach (string prefix in prefixes)
        {
            if (prefix.StartsWith('.') && exact.Remove(prefix[1..])) suffixes.Add(prefix[1..]);
            else if (prefix.StartsWith('.')) suffixes.Add(prefix);
            else raw.Add(prefix);
        }
        suffixes.Sort(StringComparer.Ordinal);
        return (exact.ToList(), suffixes, raw);
    }

    /// <summary>Reverses by Unicode scalar (a UTF-8 sequence stays in order), as sing's reverseDomain.</summary>
    public static string Reverse(string value)
    {
        var runes = new List<Rune>(value.Length);
        foreach (var r in value.EnumerateRunes()) runes.Add(r);
        var builder = new StringBuilder(value.Length);
        for (int i = runes.Count - 1; i >= 0; i--) builder.Append(runes[i].ToString());
        return builder.ToString();
    }
}
