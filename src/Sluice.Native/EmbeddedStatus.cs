using System.Text.Json;
using Sluice.Control;
using Sluice.Daemon;

namespace Sluice.Native;

/// <summary>sluice_status's answer: the daemon's status envelope, or its "disconnected" fallback.</summary>
internal static class EmbeddedStatus
{
    /// <summary>For a NULL or stopped handle.</summary>
    public static string Disconnected { get; } = """{"code":0,"message":"ok","data":{"state":"disconnected"}}""";

    public static string Of(EmbeddedEngine embedded, string version)
    {
        var engine = embedded.Engine;
        var connections = engine?.Connections.Snapshot() ?? [];
        var totals = engine?.Connections.Totals() ?? (0, 0);
        var data = new StatusData
        {
            State = embedded.State,
            Error = embedded.Error,
            ConnectedAt = embedded.ConnectedAt,
            Since = embedded.Since,
            Tun = engine?.TunName,
            Lanes = connections.GroupBy(c => c.Lane, StringComparer.Ordinal)
                .Select(g => new LaneInfo(g.Key, g.Count(), g.Sum(c => c.Upload), g.Sum(c => c.Download)))
                .OrderBy(l => l.Tag, StringComparer.Ordinal).ToArray(),
            Outbounds = engine?.Outbounds.Values.Select(OutboundDescription.Of).ToArray() ?? [],
            Connections = connections.Count,
            UploadTotal = totals.Item1,
            DownloadTotal = totals.Item2,
            Version = version,
        };
        var envelope = new Envelope(ApiCodes.Ok, "ok", JsonSerializer.SerializeToElement(data, ApiJson.TypeInfo<StatusData>()));
        return JsonSerializer.Serialize(envelope, ApiJson.TypeInfo<Envelope>());
    }
}
