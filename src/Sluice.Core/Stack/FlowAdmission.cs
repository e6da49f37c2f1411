using Microsoft.Extensions.Logging;
using Sluice.Core.Monitoring;
using Sluice.Core.Routing;

namespace Sluice.Core.Stack;

/// <summary>
/// Admission of a new flow, the same for every inbound (TUN TCP and UDP, L3 lanes, ICMP, the mixed proxy):
/// 1. the lane the current routing model chooses (<see cref="LaneSelector"/>);
/// 2. one log line naming inbound, flow, process, lane and rule (routed, refused or hijacked);
/// 3. the flow's entry in the connection registry while it lasts, with how to close it.
/// </summary>
internal sealed partial class FlowAdmission(LaneSelector lanes, ConnectionRegistry connections, ILogger logger)
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _udpRefusedByLane = new(StringComparer.Ordinal);

    public LaneSelector Lanes => lanes;

    /// <summary>UDP flows refused because their lane carries TCP only, per lane (the member a group chose), from every inbound.</summary>
    public IReadOnlyDictionary<string, long> UdpRefusedByLane => _udpRefusedByLane;

    public LaneChoice Choose(FlowContext flow, int startAt = 0, bool stopAtResolve = false) => lanes.Choose(flow, startAt, stopAtResolve);

    public LaneChoice FromDecision(RouteDecision decision) => lanes.FromDecision(decision);

    /// <summary>The process behind a flow as the log shows it; empty when none was looked up.</summary>
    public static string DescribeProcess(FlowContext flow) =>
        flow.ProcessResolved && flow.Process is { } p ? $"{p.Name ?? "?"}[{p.Pid}] uid {p.Uid}" : "";

    /// <summary>The flow goes to <paramref name="lane"/>; <paramref name="detail"/> adds what the key does not say (a fake IP's real address).</summary>
    public void Routed(FlowContext flow, string lane, RouteDecision decision, string? detail = null)
    {
        if (logger.IsEnabled(LogLevel.Information)) LogRouted(logger, flow.Inbound, Describe(flow, detail), DescribeProcess(flow), lane, decision.RuleLabel);
    }

    /// <summary>The rules refuse the flow (reject, drop, or a lane that cannot carry it).</summary>
    public void Refused(FlowContext flow, LaneChoice choice)
    {
        if (logger.IsEnabled(LogLevel.Information))
            LogRefused(logger, flow.Inbound, Describe(flow, null), DescribeProcess(flow), choice.Kind.ToString().ToLowerInvariant(), choice.Decision.RuleLabel);
    }

    /// <summary>
    /// The flow's lane carries TCP only (<paramref name="lane"/>: the member a group chose): its UDP is refused,
    /// counted per lane, and logged with how the app was answered (<paramref name="answer"/>).
    /// </summary>
    public void RefusedUdp(FlowContext flow, string outbound, string lane, string answer = "answered port unreachable")
    {
        _udpRefusedByLane.AddOrUpdate(lane, 1, (_, n) => n + 1);
        LogUdpRefused(logger, flow.Inbound, Describe(flow, null), DescribeProcess(flow), outbound, lane, answer);
    }

    /// <summary>The built-in DNS server answers the flow.</summary>
    public void Hijacked(FlowContext flow)
    {
        if (logger.IsEnabled(LogLevel.Information)) LogHijacked(logger, flow.Inbound, Describe(flow, null), DescribeProcess(flow));
    }

    /// <summary>Lists the flow among the live connections on <paramref name="lane"/>; <paramref name="close"/> ends it (a user's close, a reload).</summary>
    public TrackedConnection Register(FlowContext flow, string lane, int ruleIndex, Action close) =>
        connections.Add(flow.Key, flow.Inbound, flow.Domain, flow.ProcessResolved ? flow.Process : null, lane, lanes.DescribeRule(ruleIndex), close, flow.SocketKey);

    public void Unregister(TrackedConnection connection) => connections.Remove(connection);

    private static string Describe(FlowContext flow, string? detail) =>
        detail is not null ? $"{flow.Key} ({detail})" : flow.Domain is null ? flow.Key.ToString() : $"{flow.Key} {flow.Domain}";

    [LoggerMessage(Level = LogLevel.Information, Message = "{Inbound}: {Flow} {Process} => {Lane} ({Rule})")]
    private static partial void LogRouted(ILogger logger, string inbound, string flow, string process, string lane, string rule);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Inbound}: {Flow} {Process} => {Action} ({Rule})")]
    private static partial void LogRefused(ILogger logger, string inbound, string flow, string process, string action, string rule);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Inbound}: {Flow} {Process} => {Outbound}: UDP refused on lane {Lane} (it carries TCP only); {Answer}")]
    private static partial void LogUdpRefused(ILogger logger, string inbound, string flow, string process, string outbound, string lane, string answer);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Inbound}: {Flow} {Process} => hijack-dns")]
    private static partial void LogHijacked(ILogger logger, string inbound, string flow, string process);
}
