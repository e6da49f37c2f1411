using System.Text.Json;
using Sluice.Core.Gate;
using Sluice.Core.Tun;

namespace Sluice.Platform.Linux;

/// <summary>
/// Polls the main routing table (both families) and reports each hijacking route once
/// (<see cref="RouteHijackDetector"/>). Polling every few seconds is enough: the warning is for
/// people; the gate, not this watch, is what keeps traffic in.
/// </summary>
public sealed class RouteHijackWatch : IDisposable
{
    private readonly string _tunName;
    private readonly bool _gateClosed;
    private readonly string? _netns;
    private readonly Action<string> _warn;
    private readonly HashSet<string> _reported = new(StringComparer.Ordinal);
    private readonly Timer _timer;

    public RouteHijackWatch(string tunName, bool gateClosed, Action<string> warn, TimeSpan interval, string? netns = null)
    {
        _tunName = tunName;
        _gateClosed = gateClosed;
        _warn = warn;
        _netns = netns;
        _timer = new Timer(_ => Check(), null, TimeSpan.Zero, interval);
    }

    public void Check()
    {
        try
        {
            lock (_reported)
            {
                foreach (string warning in RouteHijackDetector.Find(ReadMainTable(_netns), _tunName, _gateClosed))
                    if (_reported.Add(warning)) _warn(warning);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or JsonException or IOException)
        {
            // A failed read is retried at the next tick; the gate does not depend on it.
        }
    }

    public static IReadOnlyList<HostRoute> ReadMainTable(string? netns = null)
    {
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

    public void Dispose() => _timer.Dispose();
}
