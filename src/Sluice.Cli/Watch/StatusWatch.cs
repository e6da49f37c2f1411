using System.Text;
using Sluice.Cli.Commands;
using Sluice.Control;

namespace Sluice.Cli.Watch;

/// <summary>
/// `sluice status --watch`: a full-screen view redrawn every interval until Ctrl-C:
/// 1. state line (with the error, and the network's default interface);
/// 2. one row per app: its lanes, connections, current down/up speed, and three download sparklines —
///    last 4 minutes at 3 s, last hour at 45 s, the session at 1 h — each from its own ring buffer in the
///    daemon (GET /api/apps), so the view is full the moment it opens;
/// 3. a total row.
/// </summary>
internal static class StatusWatch
{
    private const int Width4m = 24;
    private const int Width1h = 24;
    private const int WidthSession = 12;

    public static async Task<int> RunAsync(ControlClient client, TimeSpan interval)
    {
        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        Console.Write("\e[?25l"); // hide the cursor while redrawing
        try
        {
            while (!cancel.IsCancellationRequested)
            {
                string frame;
                try
                {
                    var status = (await client.CoreAsync("status", null, cancel.Token)).DataAs<StatusData>()!;
                    var apps = await client.GetAsync<AppsData>("api/apps", cancel.Token);
                    frame = Render(status, apps, DateTimeOffset.Now);
                }
                catch (DaemonUnreachableException e)
                {
                    frame = $"sluice daemon unreachable: {e.Message}\n";
                }
                Console.Write("\e[H\e[2J" + frame);
                try
                {
                    await Task.Delay(interval, cancel.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }
        finally
        {
            Console.Write("\e[?25h\n");
        }
        return ExitCodes.Ok;
    }

    public static string Render(StatusData status, AppsData apps, DateTimeOffset now)
    {
        var sb = new StringBuilder();
        sb.Append($"sluice  {status.State.ToUpperInvariant()}");
        if (status.ConnectedAt is { } at) sb.Append($" since {at.ToLocalTime():HH:mm:ss}");
        if (status.Error is { } error) sb.Append($"  error: {error.Message}");
        sb.Append($"  net {status.PhysicalInterface ?? "-"}  {now:HH:mm:ss}\n");
        sb.Append($"lanes: {(status.Lanes.Count == 0 ? "none active" : string.Join(", ", status.Lanes.Select(l => $"{l.Tag} ({l.Connections})")))}");
        sb.Append($"   gate: {status.Gate ?? "not loaded"}\n\n");
        var header = new[] { "APP", "LANE", "CONN", "DOWN/s", "UP/s", "4m @3s".PadRight(Width4m), "1h @45s".PadRight(Width1h), "session @1h" };
        var rows = apps.Apps.Select(Row).Append(Row(apps.Total)).ToList();
        var widths = header.Select((h, i) => Math.Max(h.Length, rows.Max(r => r[i].Length))).ToArray();
        sb.Append(string.Join("  ", header.Select((h, i) => h.PadRight(widths[i]))).TrimEnd()).Append('\n');
        foreach (var row in rows) sb.Append(string.Join("  ", row.Select((c, i) => c.PadRight(widths[i]))).TrimEnd()).Append('\n');
        return sb.ToString();
    }

    private static string[] Row(AppTraffic app)
    {
        IReadOnlyList<long> Tier(string name) => app.Tiers.FirstOrDefault(t => t.Name == name)?.Down ?? [];
        return
        [
            app.Name, app.Lanes.Count == 0 ? "-" : string.Join(",", app.Lanes), app.Connections.ToString(System.Globalization.CultureInfo.InvariantCulture),
            DaemonConnection.Rate(app.DownloadRate), DaemonConnection.Rate(app.UploadRate),
            Sparkline.Render(Tier("4m"), Width4m), Sparkline.Render(Tier("1h"), Width1h), Sparkline.Render(Tier("session"), WidthSession),
        ];
    }
}
