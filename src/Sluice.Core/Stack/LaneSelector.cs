using Microsoft.Extensions.Logging;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.Block;
using Sluice.Core.Routing;

namespace Sluice.Core.Stack;

internal enum LaneKind
{
    Outbound,
    Reject,
    Drop,
    NeedsSniff,

    /// <summary>Answered by the built-in DNS server.</summary>
    HijackDns,
}

/// <summary>What a flow gets: an outbound to carry it, a refusal, or a request to sniff first.</summary>
internal readonly record struct LaneChoice(LaneKind Kind, IOutbound? Outbound, RouteDecision Decision);

/// <summary>Turns the router's verdict into the lane the packet path acts on.</summary>
internal sealed partial class LaneSelector(
    Router router,
    IReadOnlyDictionary<string, IOutbound> outbounds,
    string defaultOutbound,
    bool dnsServerRunning,
    ILogger logger)
{
    private int _hijackWarned;

    public LaneChoice Choose(FlowContext flow, int startAt = 0) => FromDecision(router.Decide(flow, startAt));

    /// <summary>The rule behind a decision as a person reads it; "final" when no rule matched.</summary>
    public string DescribeRule(int ruleIndex)
    {
        var rules = router.Describe();
        return ruleIndex >= 0 && ruleIndex < rules.Count ? rules[ruleIndex] : "final";
    }

    public LaneChoice FromDecision(RouteDecision decision)
    {
        switch (decision.Verdict)
        {
            case Verdict.Route:
                var outbound = outbounds[decision.Outbound ?? defaultOutbound];
                // A route to a block outbound is a reject: answer at the first packet, dial nothing.
                return outbound is BlockOutbound
                    ? new LaneChoice(LaneKind.Reject, null, decision)
                    : new LaneChoice(LaneKind.Outbound, outbound, decision);
            case Verdict.Reject:
                return new LaneChoice(LaneKind.Reject, null, decision);
            case Verdict.Drop:
                return new LaneChoice(LaneKind.Drop, null, decision);
            case Verdict.Sniff:
                return new LaneChoice(LaneKind.NeedsSniff, null, decision);
            case Verdict.HijackDns:
                if (dnsServerRunning) return new LaneChoice(LaneKind.HijackDns, null, decision);
                // Without the built-in DNS server (embedding without one) the query keeps its own path.
                if (Interlocked.Exchange(ref _hijackWarned, 1) == 0) LogHijackUnavailable(logger);
                return new LaneChoice(LaneKind.Outbound, outbounds[defaultOutbound], decision);
            default:
                throw new InvalidOperationException($"unknown verdict {decision.Verdict}");
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "a rule says hijack-dns, but the built-in DNS server is not running; such flows take the final outbound")]
    private static partial void LogHijackUnavailable(ILogger logger);
}
