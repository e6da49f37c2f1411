using Sluice.Core.Dns;
using Sluice.Core.Routing;

namespace Sluice.Core.RuleSets;

/// <summary>
/// A rule set by tag as the compiled rules see it: a reference to the current compiled set, swapped
/// whole when a local file changes or a remote set is refreshed. Rules hold the handle, so a new set
/// applies to the next flow without recompiling the route table; a flow in progress keeps its decision.
/// </summary>
public sealed class RuleSetHandle
{
    private volatile CompiledRuleSet? _current;

    internal RuleSetHandle(string tag, RuleSetUsage usage)
    {
        Tag = tag;
        Usage = usage;
    }

    public string Tag { get; }

    internal RuleSetUsage Usage { get; }

    /// <summary>The rules in use now; null until the set was first loaded.</summary>
    public RuleSetContent? Content => _current?.Content;

    /// <summary>When the content in use was loaded (UTC), for status and logs.</summary>
    public DateTimeOffset? LoadedAt { get; private set; }

    /// <summary>Compiles and publishes new content; throws <see cref="RuleSetFormatException"/> and keeps the old set when it cannot.</summary>
    public void Publish(RuleSetContent content, DateTimeOffset now)
    {
        var compiled = CompiledRuleSet.Compile(content, Usage);
        _current = compiled;
        LoadedAt = now;
    }

    /// <summary>True when a rule of the set matches the flow (ip_cidr tested against the source when <paramref name="bySource"/>).</summary>
    internal bool Matches(FlowContext flow, bool bySource)
    {
        if (_current is not { } set) return false;
        foreach (var rule in bySource ? set.RouteBySource : set.Route)
            if (rule.Matches(flow)) return true;
        return false;
    }

    internal bool Matches(ref DnsQueryContext query)
    {
        if (_current is not { } set) return false;
        foreach (var rule in set.Dns)
            if (rule.Matches(ref query)) return true;
        return false;
    }

    /// <summary>The index of the first rule that matches, -1 when none (for `sluice rule-set match`).</summary>
    internal int FirstMatch(FlowContext flow)
    {
        if (_current is not { } set) return -1;
        for (int i = 0; i < set.Route.Length; i++)
            if (set.Route[i].Matches(flow)) return i;
        return -1;
    }
}
