using System.Text.RegularExpressions;
using Sluice.Core.Configuration;

namespace Sluice.Core.Routing;

/// <summary>A rule's matchers compiled for allocation-free evaluation against a <see cref="FlowContext"/>.</summary>
internal abstract class CompiledRule
{
    public abstract bool Matches(FlowContext flow);

    public abstract bool UsesProcess { get; }

    public abstract bool UsesDomain { get; }

    public static CompiledRule Compile(RuleOptions options) => Compile(options, RuleScope.Empty);

    public static CompiledRule Compile(RuleOptions options, RuleScope scope) => options switch
    {
        DefaultRuleOptions d => new DefaultRule(d, scope),
        LogicalRuleOptions l => new LogicalRule(l, scope),
        _ => throw new ArgumentException($"unknown rule kind {options.GetType().Name}", nameof(options)),
    };
}

/// <summary>
/// Matcher kinds are AND-ed; within a kind values are OR-ed, and sing-box's groups act as one kind:
/// (domain | domain_suffix | domain_keyword | domain_regex | ip_cidr | ip_is_private) &amp; (port | port_range)
/// &amp; (source_ip_cidr | source_ip_is_private) &amp; (source_port | source_port_range) &amp; every other field. Cheap tests run first and
/// the process (a kernel lookup) is touched last, only when everything else matched.
/// </summary>
internal sealed class DefaultRule : CompiledRule
{
    private readonly bool _invert;
    private readonly int _networkMask;
    private readonly string[]? _inbound;
    private readonly PortSet? _ports;
    private readonly PortSet? _sourcePorts;
    private readonly PrefixTrie? _sourceCidr;
    private readonly bool _sourceIpIsPrivate;
    private readonly int _ipVersion;
    private readonly bool _hasDestination;
    private readonly PrefixTrie? _cidr;
    private readonly bool _ipIsPrivate;
    private readonly DomainIndex? _domains;
    private readonly string[]? _keywords;
    private readonly Regex[]? _domainRegex;
    private readonly string[]? _protocols;
    private readonly ProcessMatcher? _process;
    private readonly RuleSets.RuleSetHandle[]? _ruleSets;
    private readonly bool _ruleSetBySource;
    private readonly string? _clashMode;
    private readonly ClashModeState _mode;

    public DefaultRule(DefaultRuleOptions o, RuleScope scope)
    {
        _invert = o.Invert;
        _mode = scope.Mode;
        _clashMode = o.ClashMode;
        _ruleSets = o.RuleSet.Count == 0 ? null : scope.Resolve(o.RuleSet);
        _ruleSetBySource = o.RuleSetIpCidrMatchSource;
        foreach (string n in o.Network)
        {
            _networkMask |= n switch
            {
                "tcp" => 1,
                "udp" => 2,
                "icmp" => 4,
                _ => throw new ArgumentException($"unknown network \"{n}\"", nameof(o)),
            };
        }
        _inbound = NullIfEmpty(o.Inbound);
        if (o.Port.Count > 0 || o.PortRange.Count > 0) _ports = new PortSet(o.Port, o.PortRange);
        if (o.SourcePort.Count > 0 || o.SourcePortRange.Count > 0) _sourcePorts = new PortSet(o.SourcePort, o.SourcePortRange);
        _sourceCidr = Trie(o.SourceIpCidr);
        _sourceIpIsPrivate = o.SourceIpIsPrivate;
        _ipVersion = o.IpVersion ?? 0;

        _cidr = Trie(o.IpCidr);
        _ipIsPrivate = o.IpIsPrivate;
        if (o.Domain.Count > 0 || o.DomainSuffix.Count > 0)
        {
            _domains = new DomainIndex();
            foreach (string d in o.Domain) _domains.AddExact(d);
            foreach (string d in o.DomainSuffix) _domains.AddSuffix(d);
        }
        _keywords = NullIfEmpty(o.DomainKeyword);
        _domainRegex = o.DomainRegex.Count == 0 ? null : o.DomainRegex.Select(r => new Regex(r, RuleParser.DomainRegexOptions)).ToArray();
        // Rule sets join the destination group (sing-box: "included rule-sets can be considered merged").
        _hasDestination = _cidr is not null || _ipIsPrivate || _domains is not null || _keywords is not null || _domainRegex is not null || _ruleSets is not null;

        _protocols = NullIfEmpty(o.Protocol);
        _process = ProcessMatcher.Create(o.UserId, o.User, o.ProcessName, o.ProcessPath, o.ProcessPathRegex);
    }

    public override bool UsesProcess => _process is not null;

    public override bool UsesDomain => _domains is not null || _keywords is not null || _domainRegex is not null || _ruleSets is not null;

    public override bool Matches(FlowContext flow) => MatchesAll(flow) != _invert;

    private bool MatchesAll(FlowContext flow)
    {
        ref readonly var key = ref flow.KeyRef;
        if (_clashMode is not null && !_mode.Is(_clashMode)) return false;
        if (_networkMask != 0 && (_networkMask & flow.NetworkBit) == 0) return false;
        if (_inbound is not null && !ContainsOrdinal(_inbound, flow.Inbound)) return false;
        if (_ports is not null && !_ports.Contains(key.DestinationPort)) return false;
        if (_sourcePorts is not null && !_sourcePorts.Contains(key.SourcePort)) return false;
        if (_ipVersion != 0 && (_ipVersion == 4) != key.Destination.IsV4) return false;
        if ((_sourceCidr is not null || _sourceIpIsPrivate) && !MatchesSource(key.Source)) return false;
        if (_hasDestination && !MatchesDestination(flow)) return false;
        if (_protocols is not null && (flow.Protocol is not { } p || !ContainsOrdinal(_protocols, p))) return false;
        if (_process is not null && !_process.Matches(flow.Process)) return false;
        return true;
    }

    /// <summary>sing-box's source group: source_ip_cidr | source_ip_is_private.</summary>
    private bool MatchesSource(Sluice.Packets.NetAddress source) =>
        (_sourceCidr is not null && _sourceCidr.Contains(source)) || (_sourceIpIsPrivate && PrivateAddresses.Contains(source));

    private bool MatchesDestination(FlowContext flow)
    {
        if (flow.ResolvedAddresses is { } resolved)
        {
            // After a resolve rule the destination is a stand-in for the name: the addresses found decide.
            for (int i = 0; i < resolved.Count; i++)
                if (MatchesAddress(resolved[i])) return true;
        }
        else if (MatchesAddress(flow.KeyRef.Destination))
        {
            return true;
        }
        if (_ruleSets is not null)
        {
            foreach (var set in _ruleSets)
                if (set.Matches(flow, _ruleSetBySource)) return true;
        }
        if (flow.Domain is not { Length: > 0 } domain) return false;
        if (_domains is not null && _domains.Contains(domain)) return true;
        if (_keywords is not null)
        {
            foreach (string k in _keywords)
                if (domain.Contains(k, StringComparison.OrdinalIgnoreCase)) return true;
        }
        if (_domainRegex is not null)
        {
            var name = domain.AsSpan().TrimEnd('.');
            foreach (var r in _domainRegex)
                if (r.IsMatch(name)) return true;
        }
        return false;
    }

    private bool MatchesAddress(Sluice.Packets.NetAddress address) =>
        (_cidr is not null && _cidr.Contains(address)) || (_ipIsPrivate && PrivateAddresses.Contains(address));

    private static bool ContainsOrdinal(string[] values, string value)
    {
        foreach (string v in values)
            if (string.Equals(v, value, StringComparison.Ordinal)) return true;
        return false;
    }

    private static string[]? NullIfEmpty(IReadOnlyList<string> list) => list.Count == 0 ? null : list.ToArray();

    private static PrefixTrie? Trie(IReadOnlyList<Tun.IpPrefix> prefixes)
    {
        if (prefixes.Count == 0) return null;
        var trie = new PrefixTrie();
        foreach (var p in prefixes) trie.Add(p);
        return trie;
    }
}

/// <summary>{"type":"logical"}: and/or over sub-rules, short-circuiting left to right.</summary>
internal sealed class LogicalRule : CompiledRule
{
    private readonly bool _and;
    private readonly bool _invert;
    private readonly CompiledRule[] _rules;

    public LogicalRule(LogicalRuleOptions o, RuleScope scope)
    {
        _and = o.Mode == LogicalMode.And;
        _invert = o.Invert;
        _rules = o.Rules.Select(r => Compile(r, scope)).ToArray();
    }

    public override bool UsesProcess => _rules.Any(r => r.UsesProcess);

    public override bool UsesDomain => _rules.Any(r => r.UsesDomain);

    public override bool Matches(FlowContext flow)
    {
        bool result = _and;
        foreach (var rule in _rules)
        {
            if (rule.Matches(flow) != _and)
            {
                result = !_and;
                break;
            }
        }
        return result != _invert;
    }
}
