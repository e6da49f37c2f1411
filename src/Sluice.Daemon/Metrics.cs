using System.Globalization;
using System.Text;
using Sluice.Control;
using Sluice.Core.Outbounds.WireGuard;

namespace Sluice.Daemon;

/// <summary>GET /metrics in Prometheus' text format (version 0.0.4).</summary>
internal static class Metrics
{
    public static string Render(EngineSupervisor supervisor)
    {
        var sb = new StringBuilder();
        var engine = supervisor.Engine;
        Help(sb, "sluice_state", "gauge", "1 for the engine's current state");
        foreach (var state in new[] { EngineStates.Disconnected, EngineStates.Connecting, EngineStates.Connected, EngineStates.Reconnecting, EngineStates.Error })
            Line(sb, "sluice_state", $"state=\"{state}\"", supervisor.State == state ? 1 : 0);
        var connections = engine?.Connections.Snapshot() ?? [];
        var totals = engine?.Connections.Totals() ?? (0, 0);
        Single(sb, "sluice_connections", "gauge", "live flows", connections.Count);
        if (engine is not null)
        {
            var counters = engine.Counters;
            Single(sb, "sluice_udp_sessions", "gauge", "UDP sessions (one per app 5-tuple, hijacked DNS included)", counters.UdpSessions);
            Single(sb, "sluice_tcp_nat_entries", "gauge", "TCP flows in the system-stack NAT table", counters.TcpNatEntries);
        }
        Single(sb, "sluice_upload_bytes_total", "counter", "bytes from apps since the engine came up", totals.Item1);
        Single(sb, "sluice_download_bytes_total", "counter", "bytes to apps since the engine came up", totals.Item2);
        Help(sb, "sluice_lane_connections", "gauge", "live flows per lane (outbound)");
        foreach (var lane in connections.GroupBy(c => c.Lane)) Line(sb, "sluice_lane_connections", $"lane=\"{Escape(lane.Key)}\"", lane.Count());
        if (supervisor.Meter is { } meter)
        {
            var (apps, _) = meter.Read();
            Help(sb, "sluice_app_download_bytes_total", "counter", "bytes to each app (process name)");
            foreach (var app in apps) Line(sb, "sluice_app_download_bytes_total", $"app=\"{Escape(app.Name)}\"", app.Download);
            Help(sb, "sluice_app_upload_bytes_total", "counter", "bytes from each app (process name)");
            foreach (var app in apps) Line(sb, "sluice_app_upload_bytes_total", $"app=\"{Escape(app.Name)}\"", app.Upload);
        }
        Help(sb, "sluice_wireguard_last_handshake_seconds", "gauge", "unix time of each peer's last handshake");
        foreach (var wg in engine?.Outbounds.Values.OfType<WireGuardEndpoint>() ?? [])
            foreach (var peer in wg.Peers)
                Line(sb, "sluice_wireguard_last_handshake_seconds", $"endpoint=\"{Escape(wg.Tag)}\",peer=\"{Escape(peer.Name)}\"", peer.LastHandshake?.ToUnixTimeSeconds() ?? 0);
        Single(sb, "sluice_network_changes_total", "counter", "network changes seen by the netlink monitor", supervisor.NetworkChanges);
        Single(sb, "sluice_daemon_resident_memory_bytes", "gauge", "the daemon's working set", Environment.WorkingSet);
        // What of the resident set is the managed heap (the soak's RSS growth is told apart with these: bench/soak.sh).
        var gc = GC.GetGCMemoryInfo();
        Single(sb, "sluice_daemon_gc_heap_bytes", "gauge", "the managed heap after the last garbage collection (live objects and fragmentation)", gc.HeapSizeBytes);
        Single(sb, "sluice_daemon_gc_fragmented_bytes", "gauge", "free space inside the managed heap after the last garbage collection", gc.FragmentedBytes);
        Single(sb, "sluice_daemon_gc_committed_bytes", "gauge", "memory the garbage collector has committed (heap, free space it keeps, bookkeeping)", gc.TotalCommittedBytes);
        // After the last full collection, the heap is what is still reachable (plus fragmentation): a leak grows this, garbage does not.
        Single(sb, "sluice_daemon_gc_heap_after_full_bytes", "gauge", "the managed heap after the last full (gen 2) collection; 0 before the first", HeapAfterLastFullCollection());
        Single(sb, "sluice_daemon_allocated_bytes_total", "counter", "bytes the process has allocated on the managed heap", GC.GetTotalAllocatedBytes(precise: false));
        return sb.ToString();
    }

    private static void Help(StringBuilder sb, string name, string type, string help) =>
        sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n').Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    /// <summary>A metric with one unlabelled value: its HELP/TYPE lines and the value.</summary>
    private static void Single(StringBuilder sb, string name, string type, string help, long value)
    {
        Help(sb, name, type, help);
        Line(sb, name, null, value);
    }

    private static void Line(StringBuilder sb, string name, string? labels, long value)
    {
        sb.Append(name);
        if (labels is not null) sb.Append('{').Append(labels).Append('}');
        sb.Append(' ').Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
    }

    private static string Escape(string s) => s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    /// <summary>
    /// The more recent of the last blocking and the last background full collection (by the GC's own count): the larger of
    /// the two, as before, kept a stale background figure over a later compacting one (the memory trimmer's; bench/README heap6).
    /// </summary>
    private static long HeapAfterLastFullCollection()
    {
        var blocking = GC.GetGCMemoryInfo(GCKind.FullBlocking);
        var background = GC.GetGCMemoryInfo(GCKind.Background);
        return (blocking.Index >= background.Index ? blocking : background).HeapSizeBytes;
    }
}
