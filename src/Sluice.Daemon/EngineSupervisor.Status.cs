using Sluice.Control;

namespace Sluice.Daemon;

/// <summary>The status snapshot: engine state, lanes, outbounds, and the gate with the apps it holds.</summary>
internal sealed partial class EngineSupervisor
{
    public StatusData Status()
    {
        var engine = Engine;
        var connections = engine?.Connections.Snapshot() ?? [];
        var totals = engine?.Connections.Totals() ?? (0, 0);
        var outbounds = engine?.Outbounds.Values.Select(OutboundDescription.Of).ToArray() ?? [];
        var lanes = connections.GroupBy(c => c.Lane, StringComparer.Ordinal)
            .Select(g => new LaneInfo(g.Key, g.Count(), g.Sum(c => c.Upload), g.Sum(c => c.Download))).OrderBy(l => l.Tag, StringComparer.Ordinal).ToArray();
        string? gate = SafeGate();
        return new StatusData
        {
            State = State,
            Error = Error,
            ConnectedAt = ConnectedAt,
            Since = Since,
            ConfigPath = ConfigPath,
            Tun = engine?.TunName,
            Lanes = lanes,
            Outbounds = outbounds,
            Connections = connections.Count,
            UploadTotal = totals.Item1,
            DownloadTotal = totals.Item2,
            Gate = gate,
            HeldApps = gate is null ? [] : SafeHeldApps(),
            PhysicalInterface = PhysicalInterface,
            NetworkChanges = NetworkChanges,
            Selections = Selections(engine),
            UdpRefused = UdpRefusals(engine),
            Version = Version,
        };
    }

    private string? SafeGate()
    {
        try
        {
            return _platform.GateStatus();
        }
        catch (Exception e)
        {
            return "unknown: " + e.Message;
        }
    }

    private IReadOnlyList<string> SafeHeldApps()
    {
        try
        {
            return _platform.HeldApps();
        }
        catch (Exception e)
        {
            return ["unknown: " + e.Message];
        }
    }
}
