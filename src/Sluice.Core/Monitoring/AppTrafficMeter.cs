using Sluice.Core.Flows;

namespace Sluice.Core.Monitoring;

/// <summary>
/// Per-app traffic from the connection registry: cumulative bytes per app (process name; "(unknown)" when
/// no process was found) including flows that already ended, current rates, and a <see cref="SpeedHistory"/>
/// per app and for the total. <see cref="Sample"/> is called on a timer (every second by the daemon).
/// </summary>
public sealed class AppTrafficMeter
{
    public const string UnknownApp = "(unknown)";
    private const int MaxApps = 256;

    private readonly ConnectionRegistry _registry;
    private readonly object _lock = new();
    private readonly Dictionary<long, (long Up, long Down, string App)> _seen = new();
    private readonly Dictionary<string, App> _apps = new(StringComparer.Ordinal);
    private readonly App _total;
    private DateTimeOffset _lastSample;

    public AppTrafficMeter(ConnectionRegistry registry, DateTimeOffset start)
    {
        _registry = registry;
        _total = new App("total", null, start);
        _lastSample = start;
        registry.Removed += OnRemoved;
    }

    public sealed class App(string name, string? path, DateTimeOffset start)
    {
        public string Name { get; } = name;

        public string? Path { get; set; } = path;

        public long Upload { get; set; }

        public long Download { get; set; }

        public long UploadRate { get; set; }

        public long DownloadRate { get; set; }

        public int Connections { get; set; }

        public HashSet<string> Lanes { get; } = new(StringComparer.Ordinal);

        public SpeedHistory History { get; } = new(start);

        /// <summary>Recent cumulative samples: rates are averaged over <see cref="RateWindow"/>, because relayed
        /// bytes reach a slow app in bursts as socket buffers drain, and a one-second rate flickers to zero.</summary>
        internal readonly Queue<(DateTimeOffset At, long Up, long Down)> Recent = new();
    }

    /// <summary>
    /// Adds up the live flows' bytes per app. A new flow's process is looked up first, outside the lock (a
    /// socket lookup and maybe a /proc scan each): under a flood of short connections the lookups take
    /// seconds, and ended flows (<see cref="OnRemoved"/>, on relay threads) must not queue behind them.
    /// </summary>
    public void Sample(DateTimeOffset now)
    {
        var live = _registry.Snapshot();
        var owners = new ProcessInfo?[live.Count];
        for (int i = 0; i < live.Count; i++) owners[i] = live[i].ResolveProcess();
        lock (_lock)
        {
            foreach (var app in _apps.Values)
            {
                app.Connections = 0;
                app.Lanes.Clear();
            }
            for (int i = 0; i < live.Count; i++)
            {
                var c = live[i];
                // Ended since the snapshot (e.g. during its owner lookup): OnRemoved counted its bytes and forgot it, and
                // counting it here would count them twice and remember its id for good.
                if (!_registry.IsLive(c)) continue;
                string name = owners[i]?.Name ?? UnknownApp;
                var app = Get(name, owners[i]?.Path, now);
                if (app is null) continue;
                app.Connections++;
                app.Lanes.Add(c.Lane);
                long up = c.Upload, down = c.Download;
                var before = _seen.GetValueOrDefault(c.Id);
                app.Upload += up - before.Up;
                app.Download += down - before.Down;
                _seen[c.Id] = (up, down, name);
            }
            long totalUp = 0, totalDown = 0;
            foreach (var app in _apps.Values)
            {
                UpdateRates(app, now);
                app.History.Record(now, app.Upload, app.Download);
                totalUp += app.Upload;
                totalDown += app.Download;
            }
            _total.Upload = totalUp;
            _total.Download = totalDown;
            _total.Connections = _registry.Count;
            UpdateRates(_total, now);
            _total.History.Record(now, totalUp, totalDown);
            _lastSample = now;
        }
    }

    /// <summary>The window current rates are averaged over: 5 s.</summary>
    public static readonly TimeSpan RateWindow = TimeSpan.FromSeconds(5);

    private static void UpdateRates(App app, DateTimeOffset now)
    {
        app.Recent.Enqueue((now, app.Upload, app.Download));
        while (app.Recent.Count > 2 && now - app.Recent.Peek().At > RateWindow) app.Recent.Dequeue();
        var oldest = app.Recent.Peek();
        double seconds = (now - oldest.At).TotalSeconds;
        app.UploadRate = seconds <= 0 ? 0 : (long)((app.Upload - oldest.Up) / seconds);
        app.DownloadRate = seconds <= 0 ? 0 : (long)((app.Download - oldest.Down) / seconds);
    }

    /// <summary>Flows whose last counted bytes the meter remembers (the live ones at the last sample).</summary>
    internal int RememberedFlows
    {
        get
        {
            lock (_lock) return _seen.Count;
        }
    }

    /// <summary>Apps seen this session, busiest first, and the total.</summary>
    public (IReadOnlyList<App> Apps, App Total) Read()
    {
        lock (_lock) return (_apps.Values.OrderByDescending(a => a.Download + a.Upload).ToArray(), _total);
    }

    private App? Get(string name, string? path, DateTimeOffset now)
    {
        if (_apps.TryGetValue(name, out var app))
        {
            app.Path ??= path;
            return app;
        }
        if (_apps.Count >= MaxApps) return null;
        return _apps[name] = new App(name, path, now);
    }

    // A flow ended between samples: count its last bytes to its app.
    private void OnRemoved(TrackedConnection c)
    {
        var owner = c.ResolveProcess();
        lock (_lock)
        {
            string name = owner?.Name ?? UnknownApp;
            var before = _seen.GetValueOrDefault(c.Id);
            _seen.Remove(c.Id);
            if (Get(name, owner?.Path, _lastSample) is not { } app) return;
            app.Upload += c.Upload - before.Up;
            app.Download += c.Download - before.Down;
        }
    }
}
