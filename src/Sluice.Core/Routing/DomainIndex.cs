namespace Sluice.Core.Routing;

/// <summary>
/// domain and domain_suffix entries, each with a value (a rule index). A lookup hashes the name and
/// each of its parent suffixes (one probe per label) through span lookups, so it does not allocate.
/// Suffix semantics as sing-box: "example.org" matches example.org and any subdomain, not
/// badexample.org; ".example.org" matches subdomains only. Case-insensitive; a trailing dot is ignored.
/// </summary>
internal sealed class DomainIndex
{
    private readonly Dictionary<string, int> _exact = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, int> _suffix = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, int> _subdomainsOnly = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _exactSpan;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _suffixSpan;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _subdomainsOnlySpan;

    public DomainIndex()
    {
        _exactSpan = _exact.GetAlternateLookup<ReadOnlySpan<char>>();
        _suffixSpan = _suffix.GetAlternateLookup<ReadOnlySpan<char>>();
        _subdomainsOnlySpan = _subdomainsOnly.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public bool IsEmpty => _exact.Count == 0 && _suffix.Count == 0 && _subdomainsOnly.Count == 0;

    public void AddExact(string domain, int value = 0) => Keep(_exact, domain.TrimEnd('.'), value);

    public void AddSuffix(string suffix, int value = 0)
    {
        suffix = suffix.TrimEnd('.');
        if (suffix.StartsWith('.')) Keep(_subdomainsOnly, suffix[1..], value);
        else Keep(_suffix, suffix, value);
    }

    /// <summary>The smallest value of a matching entry, int.MaxValue when none matches.</summary>
    public int MinValue(ReadOnlySpan<char> domain)
    {
        if (domain.EndsWith('.')) domain = domain[..^1];
        int min = int.MaxValue;
        if (_exactSpan.TryGetValue(domain, out int v)) min = v;
        if (_suffixSpan.TryGetValue(domain, out v)) min = Math.Min(min, v);
        if (_suffix.Count == 0 && _subdomainsOnly.Count == 0) return min;
        for (int dot = domain.IndexOf('.'); dot >= 0; dot = NextDot(domain, dot))
        {
            var parent = domain[(dot + 1)..];
            if (_suffixSpan.TryGetValue(parent, out v)) min = Math.Min(min, v);
            if (_subdomainsOnlySpan.TryGetValue(parent, out v)) min = Math.Min(min, v);
        }
        return min;
    }

    public bool Contains(ReadOnlySpan<char> domain) => MinValue(domain) != int.MaxValue;

    private static int NextDot(ReadOnlySpan<char> domain, int dot)
    {
        int next = domain[(dot + 1)..].IndexOf('.');
        return next < 0 ? -1 : dot + 1 + next;
    }

    private static void Keep(Dictionary<string, int> map, string key, int value)
    {
        if (!map.TryGetValue(key, out int existing) || value < existing) map[key] = value;
    }
}
