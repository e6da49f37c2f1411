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

/// <summary>The compiled routing model new flows are decided by: the rules and the outbounds they name.</summary>
internal sealed record RoutingModel(Router Router, IReadOnlyDictionary<string, IOutbound> Outbounds, string DefaultOutbound);

/// <summary>
/// Turns the router's verdict into the lane the packet path acts on. The routing model is replaced whole by
/// <see cref="Publish"/> (a reload); each decision reads the model once, so a flow never sees half of two.
/// </summary>
internal sealed partial class LaneSelector(
    Router router,
    IReadOnlyDictionary<string, IOutbound> outbounds,
    string defaultOutbound,
    bool dnsServerRunning,
    ILogger logger)
{
    private volatile RoutingModel _model = new(router, outbounds, defaultOutbound);
    private int _hijackWarned;

    /// <summary>The model new flows are decided by now.</summary>
    public RoutingModel Model => _model;

    /// <summary>Makes <paramref name="model"/> the one every later decision reads; flows already decided keep theirs.</summary>
    public void Publish(RoutingModel model) => _model = model;

    public LaneChoice Choose(FlowContext flow, int startAt = 0)
    {
        var model = _model;
        return FromDecision(model, model.Router.Decide(flow, startAt));
    }

    /// <summary>The rule behind a decision as a person reads it; "final" when no rule matched.</summary>
    public string DescribeRule(int ruleIndex)
    {
        var rules = _model.Router.Describe();
        return ruleIndex >= 0 && ruleIndex < rules.Count ? rules[ruleIndex] : "final";
    }

    /// <summary>The lane of a decision made earlier (a SYN's); an outbound a reload removed since refuses the flow.</summary>
    public LaneChoice FromDecision(RouteDecision decision) => FromDecision(_model, decision);

    private LaneChoice FromDecision(RoutingModel model, RouteDecision decision)
    {
        switch (decision.Verdict)
        {
            case Verdict.Route:
                // A route to a block outbound is a reject: answer at the first packet, dial nothing.
                return model.Outbounds.TryGetValue(decision.Outbound ?? model.DefaultOutbound, out var outbound) && outbound is not BlockOutbound
                    ? new LaneChoice(LaneKind.Outbound, outbound, decision)
                    : new LaneChoice(LaneKind.Reject, null, decision);
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
                return new LaneChoice(LaneKind.Outbound, model.Outbounds[model.DefaultOutbound], decision);
            default:
                throw new InvalidOperationException($"unknown verdict {decision.Verdict}");
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "a rule says hijack-dns, but the built-in DNS server is not running; such flows take the final outbound")]
    private static partial void LogHijackUnavailable(ILogger logger);
}
