using Sluice.Core.Configuration;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.Groups;
using Sluice.Core.Routing;

namespace Sluice.Core.Monitoring;

/// <summary>A proxy group as the API shows it: its kind, members, the member carrying flows now, and delays.</summary>
public sealed record GroupView(string Tag, string Type, string? Now, IReadOnlyList<GroupMemberView> Members)
{
    /// <summary>urltest/fallback: the member pinned by hand (mihomo's "fixed"); null when the group picks by itself.</summary>
    public string? Pinned { get; init; }
}

public sealed record GroupMemberView(string Tag, bool Healthy, TimeSpan? Delay, string? LastError)
{
    /// <summary>The member's protocol ("vless", "http", another group's kind).</summary>
    public string Type { get; init; } = "";

    /// <summary>Whether the member can carry UDP ("TCP+UDP") or not ("TCP only").</summary>
    public bool Udp { get; init; } = true;
}

/// <summary>A subscription as the API shows it (a Clash proxy provider): the servers it gives its group now.</summary>
/// <param name="UpdatedAt">When its list was last read from the provider; null: never (no fetch worked, no cache).</param>
/// <param name="LastError">Why the last fetch changed nothing; null after a good one.</param>
/// <param name="Usage">What the provider last said of the account (subscription-userinfo); null when it said nothing.</param>
public sealed record SubscriptionView(string Tag, string Group, IReadOnlyList<string> Servers, DateTimeOffset? UpdatedAt, string? LastError,
    Subscriptions.SubscriptionUsage? Usage = null);

/// <summary>One route rule as Clash's /rules shows it.</summary>
public sealed record RuleView(string Type, string Payload, string Target);

/// <summary>Read-only views of engine internals for the control API (groups are internal to Core).</summary>
public static class EngineViews
{
    public static GroupView? Group(IOutbound outbound) => outbound is OutboundGroup g
        ? new GroupView(g.Tag, g.Type, g.Effective?.Tag, g.Members.Select(m => new GroupMemberView(m.Outbound.Tag, m.Healthy, m.Delay, m.LastError)
            { Type = m.Outbound.Type, Udp = m.Outbound.CarriesUdp }).ToArray()) { Pinned = g.Pinned }
        : null;

    /// <summary>
    /// Every outbound by tag: the config's, then the members groups have that the config does not name (the servers
    /// subscriptions put into their groups), so the API can show, select and test them like the others.
    /// </summary>
    public static IReadOnlyDictionary<string, IOutbound> WithMembers(IReadOnlyDictionary<string, IOutbound> outbounds)
    {
        var all = new Dictionary<string, IOutbound>(outbounds, StringComparer.Ordinal);
        foreach (var outbound in outbounds.Values)
            if (outbound is OutboundGroup g)
                foreach (var member in g.Members) all.TryAdd(member.Outbound.Tag, member.Outbound);
        return all;
    }

    /// <summary>
    /// Measures the TCP connect latency to every member's server now (members without one: null), and keeps
    /// it as the member's last delay; used by the server picker before it asks.
    /// </summary>
    public static async Task<GroupView?> ProbeMembersAsync(IOutbound outbound, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (outbound is not OutboundGroup g) return null;
        await Task.WhenAll(g.Members.Select(m => g.ProbeMemberAsync(m, timeout, cancellationToken))).ConfigureAwait(false);
        return Group(outbound);
    }

    /// <summary>
    /// Clash's chain of a lane: the members groups point at now, innermost first, the lane itself last
    /// (["ss-1", "pick"]); bounded, so a misconfigured cycle cannot loop.
    /// </summary>
    public static IReadOnlyList<string> Chain(IReadOnlyDictionary<string, IOutbound> outbounds, string lane)
    {
        var chain = new List<string> { lane };
        string tag = lane;
        while (chain.Count < 8 && outbounds.TryGetValue(tag, out var outbound) && outbound is OutboundGroup { Current: { } now })
        {
            chain.Insert(0, now.Tag);
            tag = now.Tag;
        }
        return chain;
    }

    /// <summary>selector groups: choose a member. False when the outbound is not a group or has no such member.</summary>
    public static bool Select(IOutbound outbound, string member) => outbound is OutboundGroup g && g.Select(member);

    /// <summary>urltest/fallback groups: pin a member (null: unpin). False for other outbounds, selectors, or no such member.</summary>
    public static bool Pin(IOutbound outbound, string? member) => outbound is OutboundGroup g && g.Pin(member);

    /// <summary>Probes every member of a group now (a network change re-tests groups); no-op for other outbounds.</summary>
    public static Task RetestAsync(IOutbound outbound) => outbound is OutboundGroup g ? g.ProbeAllAsync() : Task.CompletedTask;

    public static IReadOnlyList<RuleView> Rules(SluiceConfig config)
    {
        var rules = new List<RuleView>();
        foreach (var rule in config.Route.Rules)
        {
            string line = RuleDescription.Describe(rule);
            int arrow = line.LastIndexOf(" => ", StringComparison.Ordinal);
            string condition = arrow >= 0 ? line[..arrow] : line;
            string target = arrow >= 0 ? line[(arrow + 4)..] : "";
            int eq = condition.IndexOf('=');
            string type = eq > 0 && !condition.Contains(' ', StringComparison.Ordinal) ? condition[..eq] : "logical";
            rules.Add(new RuleView(type, condition, target));
        }
        rules.Add(new RuleView("final", "", config.DefaultOutbound));
        return rules;
    }
}
