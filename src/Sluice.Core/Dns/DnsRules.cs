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

    public static DnsRule Compile(DnsRuleOptions options) => Compile(options, RuleScope.Empty);

    public static DnsRule Compile(DnsRuleOptions options, RuleScope scope) => options switch
    {
        DefaultDnsRuleOptions d => new DefaultDnsRule(d, scope),
        LogicalDnsRuleOptions l => new LogicalDnsRule(l, scope),
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
    private readonly ProcessMatcher? _process;
    private readonly RuleSets.RuleSetHandle[]? _ruleSets;
    private readonly string? _clashMode;
    private readonly ClashModeState _mode;

    public DefaultDnsRule(DefaultDnsRuleOptions o, RuleScope scope)
    {
        _invert = o.Invert;
        _mode = scope.Mode;
        _clashMode = o.ClashMode;
        _ruleSets = o.RuleSet.Count == 0 ? null : scope.Resolve(o.RuleSet);
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
        _hasDomain = _domains is not null || _keywords is not null || _regex is not null || _ruleSets is not null;
        _process = ProcessMatcher.Create(o.UserId, o.ProcessName, o.ProcessPath, o.ProcessPathRegex);
    }

    public bool UsesProcess => _process is not null;

    public override bool Matches(ref DnsQueryContext query) => MatchesAll(ref query) != _invert;

    private bool MatchesAll(ref DnsQueryContext query)
    {
        if (_clashMode is not null && !_mode.Is(_clashMode)) return false;
        if (_types is not null && Array.IndexOf(_types, query.Type) < 0) return false;
        if (_inbound is not null && Array.IndexOf(_inbound, query.Inbound) < 0) return false;
        if (_hasDomain && !MatchesDomain(query.Domain) && !MatchesRuleSets(ref query)) return false;
        if (_process is not null && !_process.Matches(query.Process)) return false;
        return true;
    }

    private bool MatchesRuleSets(ref DnsQueryContext query)
    {
        if (_ruleSets is null) return false;
        foreach (var set in _ruleSets)
            if (set.Matches(ref query)) return true;
        return false;
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
}

internal sealed class LogicalDnsRule : DnsRule
{
    private readonly bool _and;
    private readonly bool _invert;
    private readonly DnsRule[] _rules;

    public LogicalDnsRule(LogicalDnsRuleOptions o, RuleScope scope)
    {
        _and = o.Mode == LogicalMode.And;
        _invert = o.Invert;
        _rules = o.Rules.Select(r => Compile(r, scope)).ToArray();
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
