using Sluice.Core.Tun;
using Sluice.Platform.Linux.Network;

namespace Sluice.Platform.Linux;

/// <summary>
/// The policy rules that keep users and incoming interfaces out of auto_route's table (tun
/// include_uid / exclude_uid / include_interface / exclude_interface). Pure, golden-tested through
/// <see cref="AutoRouteRenderer"/>. With P = the plan's rule priority:
/// 1. P-3, exclusions: <c>iif lo uidrange A-B goto P+1</c> per excluded range (the host's own sockets
///    of those users), <c>iif X goto P+1</c> per excluded interface (traffic forwarded in from X).
/// 2. P-2, inclusions: the same selectors with <c>goto P</c>, straight to the TUN rule.
/// 3. P-1, the rest of a limited class: <c>iif lo goto P+1</c> when include_uid is set (other local
///    users), <c>not iif lo goto P+1</c> when include_interface is set (other forwarded traffic), one
///    <c>goto P+1</c> when both are (the kernel takes the two for duplicates: it ignores <c>not</c> there).
/// 4. P+1: <c>nop</c>, the landing rule; lookup continues with the main table as if Sluice were absent.
/// Uid ranges are tied to <c>iif lo</c> because the kernel looks forwarded packets up as uid 0, so a
/// bare <c>uidrange 0-0</c> would also catch every forwarded packet.
/// </summary>
internal static class RouteScopeRules
{
    /// <summary>Priorities P-3..P+1 belong to Sluice while auto_route has a scope.</summary>
    public static IEnumerable<int> OwnedPriorities(int rulePriority) =>
        [rulePriority - 3, rulePriority - 2, rulePriority - 1, rulePriority + 1];

    /// <summary>Rule specs (after <c>rule add</c>/<c>rule del</c>), landing rule first so every goto resolves.</summary>
    public static IReadOnlyList<RuleSpec> Render(AutoRoutePlan plan)
    {
        var scope = plan.Scope;
        if (scope.IsEveryone) return [];
        int p = plan.RulePriority, tun = p, bypass = p + 1;
        var rules = new List<RuleSpec> { new(bypass, Nop: true) };
        foreach (var range in scope.ExcludeUid) rules.Add(new(p - 3, InputInterface: "lo", Uids: range, Goto: bypass));
        foreach (string name in scope.ExcludeInterface) rules.Add(new(p - 3, InputInterface: name, Goto: bypass));
        foreach (var range in scope.IncludeUid) rules.Add(new(p - 2, InputInterface: "lo", Uids: range, Goto: tun));
        foreach (string name in scope.IncludeInterface) rules.Add(new(p - 2, InputInterface: name, Goto: tun));
        if (scope.IncludeUid.Count > 0 && scope.IncludeInterface.Count > 0) rules.Add(new(p - 1, Goto: bypass));
        else if (scope.IncludeUid.Count > 0) rules.Add(new(p - 1, InputInterface: "lo", Goto: bypass));
        else if (scope.IncludeInterface.Count > 0) rules.Add(new(p - 1, Not: true, InputInterface: "lo", Goto: bypass));
        return rules;
    }
}
