namespace Sluice.Core.Routing;

/// <summary>What happens to a new flow.</summary>
public enum Verdict
{
    /// <summary>Relay through <see cref="RouteDecision.Outbound"/>.</summary>
    Route,

    /// <summary>Refuse actively: TCP RST, ICMP unreachable for UDP/ICMP.</summary>
    Reject,

    /// <summary>Drop the packets silently.</summary>
    Drop,

    /// <summary>Hand the flow to the built-in DNS server.</summary>
    HijackDns,

    /// <summary>Sniff the first payload, set <see cref="FlowContext.Domain"/>/<see cref="FlowContext.Protocol"/>, then <c>Decide(flow, ResumeAt)</c>.</summary>
    Sniff,

    /// <summary>
    /// A resolve rule matched a flow whose destination is a name: look it up (<see cref="Router.ResolveOf"/>), set
    /// <see cref="FlowContext.ResolvedAddresses"/>, then <c>Decide(flow, ResumeAt)</c>.
    /// </summary>
    Resolve,
}

/// <param name="Outbound">The outbound tag for <see cref="Verdict.Route"/>, else null.</param>
/// <param name="RuleIndex">The matched top-level rule, -1 when the flow fell through to route.final.</param>
/// <param name="ResumeAt">Where a caller continues after sniffing (the rule after the sniff rule).</param>
/// <param name="SniffTimeout">How long to wait for the first payload (sniff only).</param>
public readonly record struct RouteDecision(Verdict Verdict, string? Outbound, int RuleIndex, int ResumeAt, TimeSpan SniffTimeout)
{
    private static readonly string[] Labels = [.. Enumerable.Range(0, 64).Select(i => $"rule {i}")];

    /// <summary>What a log line names: "rule 3" (counting from 0), or "final" when no rule matched; cached, so per-flow lines build no string for it.</summary>
    public string RuleLabel => RuleIndex < 0 ? "final" : RuleIndex < Labels.Length ? Labels[RuleIndex] : $"rule {RuleIndex}";
}
