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

    /// <summary>A resolve rule wants the flow's name looked up first (<see cref="LaneSelector.ResolveAsync"/>).</summary>
    NeedsResolve,

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

    /// <summary>
    /// The name lookups of resolve rules (the engine's DNS server); null: resolve rules are passed over. The
    /// addresses come back empty when the lookup finds none.
    /// </summary>
    public Func<string, Configuration.ResolveAction, CancellationToken, ValueTask<IReadOnlyList<Packets.NetAddress>>>? Resolver { get; set; }

    /// <param name="stopAtResolve">
    /// True where the caller can wait for a lookup (the TCP relay, the mixed inbound): a resolve rule's flow
    /// comes back as <see cref="LaneKind.NeedsResolve"/>. Otherwise (UDP and ICMP at their first packet, the
    /// packet path that must not wait) resolve rules are passed over and IP items test the destination itself.
    /// </param>
    public LaneChoice Choose(FlowContext flow, int startAt = 0, bool stopAtResolve = false)
    {
        var model = _model;
        var decision = model.Router.Decide(flow, startAt);
        while (decision.Verdict == Verdict.Resolve && !stopAtResolve) decision = model.Router.Decide(flow, decision.ResumeAt);
        return FromDecision(model, decision);
    }

    /// <summary>Carries out a <see cref="LaneKind.NeedsResolve"/> choice: looks the flow's name up, then decides from the next rule.</summary>
    public async ValueTask<LaneChoice> ResolveAsync(FlowContext flow, LaneChoice choice, CancellationToken cancellationToken)
    {
        var model = _model;
        if (model.Router.ResolveOf(choice.Decision.RuleIndex) is { } action && Resolver is { } resolve && flow.Domain is { } name)
        {
            flow.ResolvedAddresses = await resolve(name, action, cancellationToken);
            if (logger.IsEnabled(LogLevel.Debug)) LogResolved(logger, name, string.Join(" ", flow.ResolvedAddresses), choice.Decision.RuleLabel);
        }
        return Choose(flow, choice.Decision.ResumeAt, stopAtResolve: true);
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
            case Verdict.Resolve:
                return new LaneChoice(LaneKind.NeedsResolve, null, decision);
            case Verdict.HijackDns:
                if (dnsServerRunning) return new LaneChoice(LaneKind.HijackDns, null, decision);
                // Without the built-in DNS server (embedding without one) the query keeps its own path.
                if (Interlocked.Exchange(ref _hijackWarned, 1) == 0) LogHijackUnavailable(logger);
                return new LaneChoice(LaneKind.Outbound, model.Outbounds[model.DefaultOutbound], decision);
            default:
                throw new InvalidOperationException($"unknown verdict {decision.Verdict}");
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "resolve: {Name} is [{Addresses}] ({Rule})")]
    private static partial void LogResolved(ILogger logger, string name, string addresses, string rule);

    [LoggerMessage(Level = LogLevel.Warning, Message = "a rule says hijack-dns, but the built-in DNS server is not running; such flows take the final outbound")]
    private static partial void LogHijackUnavailable(ILogger logger);
}
