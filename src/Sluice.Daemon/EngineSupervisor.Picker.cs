using Sluice.Control;
using Sluice.Core;
using Sluice.Core.Monitoring;

namespace Sluice.Daemon;

/// <summary>
/// The per-session server choice (`sluice up --pick`, the dashboard's picker): the members of the selector
/// groups with protocol, UDP capability and a fresh TCP latency; the choice in status; UDP a TCP-only lane refused.
/// </summary>
internal sealed partial class EngineSupervisor
{
    private static readonly TimeSpan PickerProbeTimeout = TimeSpan.FromSeconds(3);

    /// <summary>Every selector group's members, each probed now (a TCP connect to its server, marked like all engine sockets).</summary>
    public async Task<Envelope> ServerChoicesAsync(CancellationToken cancellationToken)
    {
        if (Engine is not { } engine) return Envelopes.Fail(ApiCodes.NotRunning, "the engine is not running: `sluice up` first");
        var choices = new List<ServerChoice>();
        foreach (var outbound in engine.Outbounds.Values)
        {
            if (EngineViews.Group(outbound) is not { Type: "selector" }) continue;
            if (await EngineViews.ProbeMembersAsync(outbound, PickerProbeTimeout, cancellationToken).ConfigureAwait(false) is not { } group) continue;
            choices.AddRange(group.Members.Select(m => new ServerChoice(group.Tag, m.Tag, m.Type, m.Udp,
                m.Delay is { } d ? (int)Math.Ceiling(d.TotalMilliseconds) : null, m.Delay is null ? m.LastError : null, m.Tag == group.Now)));
        }
        return Envelopes.Ok(new ServerChoicesData(choices));
    }

    /// <summary>Chooses <paramref name="member"/> in <paramref name="group"/> (any selector group when null) for this session.</summary>
    public Envelope Pick(string? group, string member)
    {
        if (Engine is not { } engine) return Envelopes.Fail(ApiCodes.NotRunning, "the engine is not running: `sluice up` first");
        bool picked = group is null ? SelectServer(member)
            : engine.Outbounds.TryGetValue(group, out var g) && EngineViews.Group(g) is { Type: "selector" } && EngineViews.Select(g, member);
        return picked ? Envelopes.Ok(Status())
            : Envelopes.Fail(ApiCodes.NotFound, $"no selector group {(group is null ? "" : $"\"{group}\" ")}has a member \"{member}\" (see `sluice servers`)", Status());
    }

    private static IReadOnlyList<SelectionInfo> Selections(SluiceEngine? engine) => engine is null ? [] : engine.Outbounds.Values
        .Select(EngineViews.Group).OfType<GroupView>().Where(g => g.Type == "selector" && g.Now is not null)
        .Select(g => g.Members.First(m => m.Tag == g.Now) is var m ? new SelectionInfo(g.Tag, m.Tag, m.Type, m.Udp) : null!)
        .OrderBy(s => s.Group, StringComparer.Ordinal).ToArray();

    private static IReadOnlyList<UdpRefusalInfo> UdpRefusals(SluiceEngine? engine) => engine is null ? []
        : engine.UdpRefusedByLane.Select(r => new UdpRefusalInfo(r.Key, r.Value)).OrderBy(r => r.Lane, StringComparer.Ordinal).ToArray();
}
