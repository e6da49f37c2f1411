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
        Help(sb, "sluice_connections", "gauge", "live flows");
        Line(sb, "sluice_connections", null, connections.Count);
        if (engine is not null)
        {
            var counters = engine.Counters;
            Help(sb, "sluice_udp_sessions", "gauge", "UDP sessions (one per app 5-tuple, hijacked DNS included)");
            Line(sb, "sluice_udp_sessions", null, counters.UdpSessions);
            Help(sb, "sluice_tcp_nat_entries", "gauge", "TCP flows in the system-stack NAT table");
            Line(sb, "sluice_tcp_nat_entries", null, counters.TcpNatEntries);
        }
        Help(sb, "sluice_upload_bytes_total", "counter", "bytes from apps since the engine came up");
        Line(sb, "sluice_upload_bytes_total", null, totals.Item1);
        Help(sb, "sluice_download_bytes_total", "counter", "bytes to apps since the engine came up");
        Line(sb, "sluice_download_bytes_total", null, totals.Item2);
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
        Help(sb, "sluice_network_changes_total", "counter", "network changes seen by the netlink monitor");
        Line(sb, "sluice_network_changes_total", null, supervisor.NetworkChanges);
        Help(sb, "sluice_daemon_resident_memory_bytes", "gauge", "the daemon's working set");
        Line(sb, "sluice_daemon_resident_memory_bytes", null, Environment.WorkingSet);
        // What of the resident set is the managed heap (the soak's RSS growth is told apart with these: bench/soak.sh).
        var gc = GC.GetGCMemoryInfo();
        Help(sb, "sluice_daemon_gc_heap_bytes", "gauge", "the managed heap after the last garbage collection (live objects and fragmentation)");
        Line(sb, "sluice_daemon_gc_heap_bytes", null, gc.HeapSizeBytes);
        Help(sb, "sluice_daemon_gc_fragmented_bytes", "gauge", "free space inside the managed heap after the last garbage collection");
        Line(sb, "sluice_daemon_gc_fragmented_bytes", null, gc.FragmentedBytes);
        Help(sb, "sluice_daemon_gc_committed_bytes", "gauge", "memory the garbage collector has committed (heap, free space it keeps, bookkeeping)");
        Line(sb, "sluice_daemon_gc_committed_bytes", null, gc.TotalCommittedBytes);
        // After the last full collection, the heap is what is still reachable (plus fragmentation): a leak grows this, garbage does not.
        Help(sb, "sluice_daemon_gc_heap_after_full_bytes", "gauge", "the managed heap after the last full (gen 2) collection; 0 before the first");
        Line(sb, "sluice_daemon_gc_heap_after_full_bytes", null, Math.Max(GC.GetGCMemoryInfo(GCKind.FullBlocking).HeapSizeBytes, GC.GetGCMemoryInfo(GCKind.Background).HeapSizeBytes));
        Help(sb, "sluice_daemon_allocated_bytes_total", "counter", "bytes the process has allocated on the managed heap");
        Line(sb, "sluice_daemon_allocated_bytes_total", null, GC.GetTotalAllocatedBytes(precise: false));
        return sb.ToString();
    }

    private static void Help(StringBuilder sb, string name, string type, string help) =>
        sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n').Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    private static void Line(StringBuilder sb, string name, string? labels, long value)
    {
        sb.Append(name);
        if (labels is not null) sb.Append('{').Append(labels).Append('}');
        sb.Append(' ').Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
    }

    private static string Escape(string s) => s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
