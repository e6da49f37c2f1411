using System.Text.RegularExpressions;
using Sluice.Core.Configuration;
using Sluice.Core.Flows;
using Sluice.Core.Routing;

namespace Sluice.Core.Dns;

/// <summary>Who sent a query: the inbound it came in on, and its process, resolved lazily.</summary>
/// <param name="Process">Called at most once per query, and only when a rule with a process matcher is evaluated.</param>
public sealed record DnsQuerier(string Inbound, Func<ProcessInfo?> Process)
{
    /// <summary>A querier whose process is never looked up (the engine's own lookups, tests).</summary>
    public static DnsQuerier Anonymous(string inbound) => new(inbound, static () => null);
}

/// <summary>What one query is matched on; a stack value so evaluation does not allocate.</summary>
internal ref struct DnsQueryContext
{
    private readonly Func<ProcessInfo?> _lookup;
    private ProcessInfo? _process;
    private bool _resolved;

    public DnsQueryContext(ReadOnlySpan<char> domain, ushort type, DnsQuerier querier)
    {
        Domain = domain;
        Type = type;
        Inbound = querier.Inbound;
        _lookup = querier.Process;
    }

    /// <summary>Lowercase, no trailing dot; empty for the root.</summary>
    public ReadOnlySpan<char> Domain { get; }

    public ushort Type { get; }

    public string Inbound { get; }

    public ProcessInfo? Process
    {
        get
        {
            if (!_resolved)
            {
                _resolved = true;
                _process = _lookup();
            }
            return _process;
        }
    }
}

/// <summary>A compiled dns.rules entry.</summary>
internal abstract class DnsRule
{
    public abstract bool Matches(ref DnsQueryContext query);

    public static DnsRule Compile(DnsRuleOptions options) => options switch
    {
        DefaultDnsRuleOptions d => new DefaultDnsRule(d),
        LogicalDnsRuleOptions l => new LogicalDnsRule(l),
        _ => throw new ArgumentException($"unknown DNS rule kind {options.GetType().Name}", nameof(options)),
    };
}

/// <summary>
/// (domain | domain_suffix | domain_keyword | domain_regex) &amp; query_type &amp; inbound &amp; user_id &amp;
/// process_name &amp; process_path &amp; process_path_regex, as sing-box. The process is touched last.
/// </summary>
internal sealed class DefaultDnsRule : DnsRule
{
    private readonly bool _invert;
    private readonly string[]? _inbound;
    private readonly ushort[]? _types;
    private readonly bool _hasDomain;
    private readonly DomainIndex? _domains;
    private readonly string[]? _keywords;
    private readonly Regex[]? _regex;
    private readonly uint[]? _uids;
    private readonly HashSet<string>? _names;
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _namesSpan;
    private readonly HashSet<string>? _truncatedNames;
    private readonly HashSet<string>? _paths;
    private readonly Regex[]? _pathRegex;

    public DefaultDnsRule(DefaultDnsRuleOptions o)
    {
        _invert = o.Invert;
        _inbound = o.Inbound.Count == 0 ? null : o.Inbound.ToArray();
        _types = o.QueryType.Count == 0 ? null : o.QueryType.ToArray();
        if (o.Domain.Count > 0 || o.DomainSuffix.Count > 0)
        {
            _domains = new DomainIndex();
            foreach (string d in o.Domain) _domains.AddExact(d);
            foreach (string d in o.DomainSuffix) _domains.AddSuffix(d);
        }
        _keywords = o.DomainKeyword.Count == 0 ? null : o.DomainKeyword.ToArray();
        _regex = o.DomainRegex.Count == 0 ? null : o.DomainRegex.Select(r => new Regex(r, RuleParser.DomainRegexOptions)).ToArray();
        _hasDomain = _domains is not null || _keywords is not null || _regex is not null;
        _uids = o.UserId.Count == 0 ? null : o.UserId.ToArray();
        if (o.ProcessName.Count > 0)
        {
            _names = new HashSet<string>(o.ProcessName, StringComparer.Ordinal);
            _namesSpan = _names.GetAlternateLookup<ReadOnlySpan<char>>();
            _truncatedNames = new HashSet<string>(o.ProcessName.Select(n => n.Length > DefaultRule.CommLength ? n[..DefaultRule.CommLength] : n), StringComparer.Ordinal);
        }
        _paths = o.ProcessPath.Count == 0 ? null : new HashSet<string>(o.ProcessPath, StringComparer.Ordinal);
        _pathRegex = o.ProcessPathRegex.Count == 0 ? null : o.ProcessPathRegex.Select(r => new Regex(r, RuleParser.PathRegexOptions)).ToArray();
    }

    public bool UsesProcess => _uids is not null || _names is not null || _paths is not null || _pathRegex is not null;

    public override bool Matches(ref DnsQueryContext query) => MatchesAll(ref query) != _invert;

    private bool MatchesAll(ref DnsQueryContext query)
    {
        if (_types is not null && Array.IndexOf(_types, query.Type) < 0) return false;
        if (_inbound is not null && Array.IndexOf(_inbound, query.Inbound) < 0) return false;
        if (_hasDomain && !MatchesDomain(query.Domain)) return false;
        if (UsesProcess && !MatchesProcess(query.Process)) return false;
        return true;
    }

    private bool MatchesDomain(ReadOnlySpan<char> domain)
    {
        if (domain.IsEmpty) return false;
        if (_domains is not null && _domains.Contains(domain)) return true;
        if (_keywords is not null)
        {
            foreach (string k in _keywords)
                if (domain.Contains(k, StringComparison.OrdinalIgnoreCase)) return true;
        }
        if (_regex is not null)
        {
            foreach (var r in _regex)
                if (r.IsMatch(domain)) return true;
        }
        return false;
    }

    /// <summary>Same semantics as route rules: comm (15 chars) or the executable's basename in full.</summary>
    private bool MatchesProcess(ProcessInfo? process)
    {
        if (process is null) return false;
        if (_uids is not null && Array.IndexOf(_uids, process.Uid) < 0) return false;
        if (_names is not null)
        {
            bool byComm = process.Name is { } comm && _truncatedNames!.Contains(comm);
            bool byPath = process.Path is { } exe && _namesSpan.Contains(exe.AsSpan(exe.LastIndexOf('/') + 1));
            if (!byComm && !byPath) return false;
        }
        if (_paths is not null && (process.Path is not { } path || !_paths.Contains(path))) return false;
        if (_pathRegex is not null)
        {
            if (process.Path is not { } exePath) return false;
            bool any = false;
            foreach (var r in _pathRegex)
            {
                if (r.IsMatch(exePath))
                {
                    any = true;
                    break;
                }
            }
            if (!any) return false;
        }
        return true;
    }
}

internal sealed class LogicalDnsRule : DnsRule
{
    private readonly bool _and;
    private readonly bool _invert;
    private readonly DnsRule[] _rules;

    public LogicalDnsRule(LogicalDnsRuleOptions o)
    {
        _and = o.Mode == LogicalMode.And;
        _invert = o.Invert;
        _rules = o.Rules.Select(Compile).ToArray();
    }

    public override bool Matches(ref DnsQueryContext query)
    {
        bool result = _and;
        foreach (var rule in _rules)
        {
            if (rule.Matches(ref query) != _and)
            {
                result = !_and;
                break;
            }
        }
        return result != _invert;
    }
}
