using System.Text.RegularExpressions;
using Sluice.Core.Configuration;
using Sluice.Core.Flows;
using Sluice.Core.Routing;
using Sluice.Packets;

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

    /// <summary>
    /// False while rules are matched before any server was asked: address filters then count as matching and
    /// set <see cref="AnswerPending"/>. True when a rule is matched again against the addresses of its server's answer.
    /// </summary>
    public bool AnswerKnown { get; private set; }

    /// <summary>The A/AAAA addresses of the answer being tested (empty: an answer without addresses).</summary>
    public ReadOnlySpan<NetAddress> Answer { get; private set; }

    /// <summary>Set when a rule matched only because its address filter waits for the answer.</summary>
    public bool AnswerPending { get; set; }

    /// <summary>The referencing rule's rule_set_ip_cidr_accept_empty, read by the rule sets' own ip_cidr rules.</summary>
    public bool SetsAcceptEmpty { get; set; }

    /// <summary>
    /// The referencing rule's rule_set_ip_cidr_match_source: the sets' ip_cidr rules would test the querier's address,
    /// which a query here does not carry, so they match nothing (and wait for no answer).
    /// </summary>
    public bool SetsMatchSource { get; set; }

    public void SetAnswer(ReadOnlySpan<NetAddress> addresses)
    {
        AnswerKnown = true;
        Answer = addresses;
    }

    /// <summary>A querier whose process, when this context already looked it up, is not looked up again.</summary>
    public DnsQuerier Snapshot()
    {
        if (!_resolved) return new DnsQuerier(Inbound, _lookup);
        var process = _process;
        return new DnsQuerier(Inbound, () => process);
    }

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
/// (domain | domain_suffix | domain_keyword | domain_regex | rule_set | ip_cidr | ip_is_private | ip_accept_any) &amp;
/// query_type &amp; inbound &amp; user_id &amp; process_name &amp; process_path &amp; process_path_regex, as sing-box.
/// The process is touched last. The address items (sing-box's address filter fields) test the answer: before it
/// is known they count as matching and mark the query <see cref="DnsQueryContext.AnswerPending"/>.
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
    private readonly PrefixTrie? _cidr;
    private readonly bool _ipIsPrivate;
    private readonly bool _ipAcceptAny;
    private readonly bool _hasAddress;
    private readonly bool _inRuleSet;
    private readonly bool _setsAcceptEmpty;
    private readonly bool _setsMatchSource;

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
        if (o.IpCidr.Count > 0)
        {
            _cidr = new PrefixTrie();
            foreach (var p in o.IpCidr) _cidr.Add(p);
        }
        _ipIsPrivate = o.IpIsPrivate;
        _ipAcceptAny = o.IpAcceptAny;
        _hasAddress = o.HasAddressFilter;
        _inRuleSet = o.InRuleSet;
        _setsAcceptEmpty = o.RuleSetIpCidrAcceptEmpty;
        _setsMatchSource = o.RuleSetIpCidrMatchSource;
        _process = ProcessMatcher.Create(o.UserId, o.ProcessName, o.ProcessPath, o.ProcessPathRegex);
    }

    public bool UsesProcess => _process is not null;

    public override bool Matches(ref DnsQueryContext query) => MatchesAll(ref query) != _invert;

    private bool MatchesAll(ref DnsQueryContext query)
    {
        if (_clashMode is not null && !_mode.Is(_clashMode)) return false;
        if (_types is not null && Array.IndexOf(_types, query.Type) < 0) return false;
        if (_inbound is not null && Array.IndexOf(_inbound, query.Inbound) < 0) return false;
        if ((_hasDomain || _hasAddress) && !MatchesDomain(query.Domain) && !MatchesRuleSets(ref query) && !MatchesAnswer(ref query)) return false;
        if (_process is not null && !_process.Matches(query.Process)) return false;
        return true;
    }

    private bool MatchesRuleSets(ref DnsQueryContext query)
    {
        if (_ruleSets is null) return false;
        (bool outerEmpty, bool outerSource) = (query.SetsAcceptEmpty, query.SetsMatchSource);
        (query.SetsAcceptEmpty, query.SetsMatchSource) = (_setsAcceptEmpty, _setsMatchSource);
        try
        {
            foreach (var set in _ruleSets)
                if (set.Matches(ref query)) return true;
            return false;
        }
        finally
        {
            (query.SetsAcceptEmpty, query.SetsMatchSource) = (outerEmpty, outerSource);
        }
    }

    /// <summary>Any answer address in ip_cidr or private (ip_is_private), or any address at all (ip_accept_any).</summary>
    private bool MatchesAnswer(ref DnsQueryContext query)
    {
        if (!_hasAddress || (_inRuleSet && query.SetsMatchSource)) return false;
        if (!query.AnswerKnown)
        {
            query.AnswerPending = true;
            return true;
        }
        var answer = query.Answer;
        if (answer.IsEmpty) return _inRuleSet && query.SetsAcceptEmpty;
        if (_ipAcceptAny) return true;
        foreach (var address in answer)
        {
            if (_cidr is not null && _cidr.Contains(address)) return true;
            if (_ipIsPrivate && PrivateAddresses.Contains(address)) return true;
        }
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
