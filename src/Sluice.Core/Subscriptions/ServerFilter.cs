using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Sluice.Core.Subscriptions;

/// <summary>
/// Which of a subscription's servers feed its group, by name and type, as mihomo filters a provider's proxies:
/// 1. <c>filter</c>: with none every server passes; else each expression in turn picks the servers whose name it
///    matches (anywhere in the name), in the list's order, each server once — so the expressions' order is the members' order;
/// 2. <c>exclude_filter</c>: a server whose name any of them matches is left out;
/// 3. <c>exclude_type</c>: a server of one of these outbound types (<c>shadowsocks</c>, <c>vless</c>, …) is left out.
/// Expressions backtrack (profiles use lookaheads) and each match is bounded by <see cref="EngineLimits.NameFilterTimeout"/>;
/// a name that runs out of time does not match.
/// </summary>
public sealed class ServerFilter
{
    public static ServerFilter None { get; } = new([], [], []);

    private readonly Regex[] _keep;
    private readonly Regex[] _drop;
    private readonly HashSet<string> _dropTypes;

    public ServerFilter(IReadOnlyList<string> filter, IReadOnlyList<string> excludeFilter, IReadOnlyList<string> excludeType, TimeSpan? timeout = null)
    {
        var limit = timeout ?? EngineLimits.Default.NameFilterTimeout;
        Filter = filter;
        ExcludeFilter = excludeFilter;
        ExcludeType = excludeType;
        _keep = filter.Select(p => Compile(p, limit)).ToArray();
        _drop = excludeFilter.Select(p => Compile(p, limit)).ToArray();
        _dropTypes = excludeType.ToHashSet(StringComparer.OrdinalIgnoreCase);
    }

    public IReadOnlyList<string> Filter { get; }

    public IReadOnlyList<string> ExcludeFilter { get; }

    public IReadOnlyList<string> ExcludeType { get; }

    public bool IsNone => _keep.Length == 0 && _drop.Length == 0 && _dropTypes.Count == 0;

    /// <exception cref="ArgumentException">Not a regular expression .NET reads (the config reports it at its path).</exception>
    public static Regex Compile(string pattern, TimeSpan timeout) => new(pattern, RegexOptions.CultureInvariant, timeout);

    /// <summary>The servers (sing-box outbound objects with "tag" and "type") that pass, in the order described above.</summary>
    public IReadOnlyList<JsonObject> Apply(IReadOnlyList<JsonObject> servers)
    {
        if (IsNone) return servers;
        var passing = servers.Where(s => !Excludes(Name(s), (string?)s["type"] ?? "")).ToList();
        if (_keep.Length == 0) return passing;
        var kept = new List<JsonObject>();
        var seen = new HashSet<JsonObject>(ReferenceEqualityComparer.Instance);
        foreach (var r in _keep)
            foreach (var s in passing)
                if (Matches(r, Name(s)) && seen.Add(s)) kept.Add(s);
        return kept;
    }

    /// <summary>True when there is no filter or one of its expressions matches <paramref name="name"/>.</summary>
    public bool Keeps(string name) => _keep.Length == 0 || _keep.Any(r => Matches(r, name));

    /// <summary>True when an exclude_filter expression matches <paramref name="name"/> or <paramref name="type"/> is excluded.</summary>
    public bool Excludes(string name, string type) => _dropTypes.Contains(type) || _drop.Any(r => Matches(r, name));

    private static string Name(JsonObject server) => (string?)server["tag"] ?? "";

    private static bool Matches(Regex r, string name)
    {
        try
        {
            return r.IsMatch(name);
        }
        catch (RegexMatchTimeoutException)
        {
            return false;
        }
    }
}
