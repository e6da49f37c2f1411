using System.Text.Json;
using Sluice.Core.Gate;
using Sluice.Core.Tun;
using Sluice.Platform.Linux.Network;

namespace Sluice.Platform.Linux;

/// <summary>
/// Reads the main routing table (both families) when it starts and again whenever rtnetlink reports
/// a main-table route change, and reports each hijacking route once (<see cref="RouteHijackDetector"/>).
/// A change is read a moment after it arrives, since a DHCP client adds its routes in a burst. A slow
/// backstop read covers events lost to a full socket buffer; without rtnetlink it polls instead.
/// The warning is for people; the gate, not this watch, is what keeps traffic in.
/// </summary>
public sealed class RouteHijackWatch : IDisposable
{
    private static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan Backstop = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan PollWithoutNetlink = TimeSpan.FromSeconds(2);

    private readonly string _tunName;
    private readonly bool _gateClosed;
    private readonly Action<string> _warn;
    private readonly HashSet<string> _reported = new(StringComparer.Ordinal);
    private readonly Timer _timer;
    private readonly NetlinkMonitor? _monitor;

    public RouteHijackWatch(string tunName, bool gateClosed, Action<string> warn)
    {
        _tunName = tunName;
        _gateClosed = gateClosed;
        _warn = warn;
        _timer = new Timer(_ => Check());
        // Subscribed before the first read, so a route added in between is not missed.
        var monitor = new NetlinkMonitor(() => tunName, NetlinkMonitor.RouteGroups);
        monitor.Changed += _ => Soon();
        try
        {
            monitor.Start();
            _monitor = monitor;
        }
        catch (InvalidOperationException)
        {
            monitor.Dispose();
        }
        _timer.Change(TimeSpan.Zero, _monitor is null ? PollWithoutNetlink : Backstop);
    }

    private void Soon()
    {
        try
        {
            _timer.Change(Settle, Backstop);
        }
        catch (ObjectDisposedException)
        {
            // An event that raced Dispose: nothing is watched any more.
        }
    }

    public void Check()
    {
        try
        {
            lock (_reported)
            {
                foreach (string warning in RouteHijackDetector.Find(ReadMainTable(), _tunName, _gateClosed))
                    if (_reported.Add(warning)) _warn(warning);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or JsonException or IOException)
        {
            // A failed read is retried at the next change or tick; the gate does not depend on it.
        }
    }

    /// <summary>The main table's routes: an rtnetlink dump in process (netns null), else <c>ip -n NS -j route show</c>.</summary>
    public static IReadOnlyList<HostRoute> ReadMainTable(string? netns = null)
    {
        if (netns is null && !IpCommand.ProgramsOnly) return MainTableRoutes.Read();
        var routes = new List<HostRoute>();
        foreach (string family in new[] { "-4", "-6" })
        {
            var result = IpCommand.Ip(["-j", family, "route", "show", "table", "main"], netns, throwOnError: false);
            if (!result.Succeeded || result.Stdout.Trim().Length == 0) continue;
            using var doc = JsonDocument.Parse(result.Stdout);
            foreach (var r in doc.RootElement.EnumerateArray())
            {
                if (r.TryGetProperty("type", out var type) && type.GetString() is { } t && t != "unicast") continue;
                string dst = r.TryGetProperty("dst", out var d) ? d.GetString() ?? "" : "";
                if (dst == "default") continue;
                if (!IpPrefix.TryParse(dst, out var prefix)) continue;
                string? gateway = r.TryGetProperty("gateway", out var g) ? g.GetString() : null;
                string dev = r.TryGetProperty("dev", out var dv) ? dv.GetString() ?? "" : "";
                string? proto = r.TryGetProperty("protocol", out var p) ? p.GetString() : null;
                routes.Add(new HostRoute(prefix, gateway, dev, proto));
            }
        }
        return routes;
    }

    public void Dispose()
    {
        _monitor?.Dispose();
        _timer.Dispose();
    }
}
