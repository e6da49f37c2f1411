using System.Text.Json.Serialization;

namespace Sluice.Control;

/// <summary>The engine's states as the API names them.</summary>
public static class EngineStates
{
    public const string Disconnected = "disconnected";
    public const string Connecting = "connecting";
    public const string Connected = "connected";
    public const string Reconnecting = "reconnecting";
    public const string Error = "error";
}

/// <summary>What went wrong, for a person: the code is an <see cref="ApiCodes"/> value.</summary>
public sealed record ErrorInfo(int Code, string Message);

/// <summary>
/// <c>status</c> data. Lanes are the outbounds carrying at least one live flow now; outbounds are all of
/// them. <see cref="Gate"/> is what the fail-shut gate holds (null when none is loaded).
/// </summary>
public sealed record StatusData
{
    public required string State { get; init; }

    public ErrorInfo? Error { get; init; }

    public DateTimeOffset? ConnectedAt { get; init; }

    /// <summary>When the state last changed.</summary>
    public DateTimeOffset Since { get; init; }

    /// <summary>The config file the engine runs, or null for a config sent inline.</summary>
    public string? ConfigPath { get; init; }

    public string? Tun { get; init; }

    public IReadOnlyList<LaneInfo> Lanes { get; init; } = [];

    public IReadOnlyList<OutboundInfo> Outbounds { get; init; } = [];

    public int Connections { get; init; }

    public long UploadTotal { get; init; }

    public long DownloadTotal { get; init; }

    public string? Gate { get; init; }

    /// <summary>The interface the default route leaves by (re-detected on every network change).</summary>
    public string? PhysicalInterface { get; init; }

    public int NetworkChanges { get; init; }

    public string Version { get; init; } = "";
}

public sealed record LaneInfo(string Tag, int Connections, long Upload, long Download);

/// <summary>An outbound or endpoint. <see cref="Now"/> is a group's current member; peers are WireGuard's.</summary>
public sealed record OutboundInfo(string Tag, string Type)
{
    public string? Now { get; init; }

    public IReadOnlyList<string>? Members { get; init; }

    public IReadOnlyList<PeerInfo>? Peers { get; init; }
}

public sealed record PeerInfo(string Name, string? Endpoint, DateTimeOffset? LastHandshake, long RxBytes, long TxBytes);

/// <summary>One pushed state change (<c>GET /api/events</c>, one JSON object per line).</summary>
public sealed record StateEvent(string State, DateTimeOffset At, ErrorInfo? Error, string? Reason);

/// <summary><c>version</c> data.</summary>
public sealed record VersionData(string Version, string Runtime, string Os, string Arch);

/// <summary>
/// <c>GET /api/apps</c>: per-app speeds with the three sparkline tiers. Each tier is its own ring buffer of
/// average rates (bytes/s) per interval, oldest first; the last point is the interval in progress.
/// </summary>
public sealed record AppsData(IReadOnlyList<AppTraffic> Apps, AppTraffic Total);

public sealed record AppTraffic(string Name, string? Path, IReadOnlyList<string> Lanes, int Connections, long UploadRate, long DownloadRate,
    long Upload, long Download, IReadOnlyList<SpeedTier> Tiers);

/// <param name="Name">"4m", "1h" or "session".</param>
/// <param name="IntervalSeconds">3, 45 or 3600.</param>
/// <param name="Down">Download rate per interval, bytes/s.</param>
public sealed record SpeedTier(string Name, int IntervalSeconds, int Capacity, IReadOnlyList<long> Down, IReadOnlyList<long> Up);

/// <summary>The Clash mode now and the modes it can be switched to (core action "mode").</summary>
public sealed record ModeData(string Mode, IReadOnlyList<string> Modes);

/// <summary>
/// <c>reload</c> data: live flows kept on their lanes and closed (their outbound was removed or changed);
/// <see cref="Restarted"/> says why the engine had to restart instead (every flow closed), null when it did not.
/// </summary>
public sealed record ReloadData(int Kept, int Closed, IReadOnlyList<string> Replaced, string? Restarted, string State);

/// <summary>A config that cannot be used: each error with the JSON path it is at.</summary>
public sealed record ConfigErrorsData(IReadOnlyList<ConfigErrorInfo> Errors);

public sealed record ConfigErrorInfo(string Path, string Message);
