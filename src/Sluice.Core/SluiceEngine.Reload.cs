using Microsoft.Extensions.Logging;
using Sluice.Core.Configuration;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.WireGuard;
using Sluice.Core.Routing;
using Sluice.Core.Stack;

namespace Sluice.Core;

/// <summary>What a reload did: live flows kept on their lanes, flows closed because their outbound went or changed.</summary>
public readonly record struct EngineReload(int Kept, int Closed, IReadOnlyList<string> ReplacedOutbounds);

/// <summary>
/// Reload that keeps connections. The data path (TUN, NAT, relays, sessions, DNS) stays up; the routing model
/// (rules, final, outbounds and groups) is compiled from the next config and published at once:
/// 1. the rules compile and every new or changed outbound is created; a failure here changes nothing;
/// 2. outbounds whose settings are unchanged (<paramref name="unchangedOutbounds"/>) are kept as they are;
/// 3. the new model is published: every new flow is decided by it;
/// 4. live flows on an outbound that was removed or changed are closed (RST), then those outbounds disposed.
/// </summary>
public sealed partial class SluiceEngine
{
    private TunAttachment Attachment => new(_tun!.Name, _nat4?.TunAddress, _nat6?.TunAddress, _l3!.Pin, _l3!.Unpin);

    private IOutbound CreateOutbound(OutboundOptions options, OutboundContext context) => options is WireGuardEndpointOptions wireGuard
        ? new WireGuardEndpoint(wireGuard, context.Sockets, _logs.CreateLogger("wireguard"), _time, _platform.PacketCiphers)
        : OutboundRegistry.Create(options, context);

    /// <param name="next">The next config; only its route rules, final and outbounds are read (the caller checked the rest is unchanged).</param>
    /// <param name="unchangedOutbounds">Tags whose settings (and everything they refer to) are the same in both configs.</param>
    public EngineReload Reload(SluiceConfig next, IReadOnlySet<string> unchangedOutbounds)
    {
        if (_lanes is null || _context is null || _scope is null) throw new InvalidOperationException("the engine is not running");
        var running = _outbounds;
        string defaultOutbound = next.Route.Final ?? next.Outbounds[0].Tag;
        var router = Router.Compile(next.Route, next.Outbounds.Select(o => o.Tag).ToList(), defaultOutbound, _scope, _time);
        var model = new Dictionary<string, IOutbound>(StringComparer.Ordinal);
        var created = new List<IOutbound>();
        try
        {
            foreach (var options in next.Outbounds)
            {
                if (unchangedOutbounds.Contains(options.Tag) && running.TryGetValue(options.Tag, out var kept)) model[options.Tag] = kept;
                else created.Add(model[options.Tag] = CreateOutbound(options, _context));
            }
        }
        catch
        {
            foreach (var outbound in created) outbound.Dispose();
            throw;
        }

        // From here on nothing fails: the new outbounds resolve members and detours in the new dictionary.
        _outbounds = model;
        if (_cache is { } cache) EngineMode.RememberSelections(created, cache);
        if (_tun is not null && _l3 is not null)
            foreach (var endpoint in created.OfType<WireGuardEndpoint>()) endpoint.Start(_tun, Attachment);
        _lanes.Publish(new RoutingModel(router, model, defaultOutbound));
        _config = _config with { Route = next.Route, Outbounds = next.Outbounds };

        var gone = running.Where(entry => !ReferenceEquals(model.GetValueOrDefault(entry.Key), entry.Value)).ToList();
        var goneTags = gone.Select(entry => entry.Key).ToHashSet(StringComparer.Ordinal);
        int closed = Connections.CloseAll(connection => goneTags.Contains(connection.Lane));
        int keptFlows = Connections.Count;
        foreach (var (_, outbound) in gone) outbound.Dispose();
        var replaced = goneTags.Order(StringComparer.Ordinal).ToArray();
        LogReloaded(_logger, keptFlows, closed, replaced.Length == 0 ? "none" : string.Join(", ", replaced));
        foreach (var line in router.Describe()) LogRule(_logger, line);
        return new EngineReload(keptFlows, closed, replaced);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "reloaded: {Kept} live flow(s) kept, {Closed} closed; outbounds removed or changed: {Replaced}")]
    private static partial void LogReloaded(ILogger logger, int kept, int closed, string replaced);
}
