using Microsoft.Extensions.Logging;
using Sluice.Control;
using Sluice.Core;
using Sluice.Core.Configuration;
using Sluice.Core.Monitoring;

namespace Sluice.Daemon;

/// <summary>Where the daemon listens and keeps state; every path overridable so test daemons do not collide.</summary>
/// <param name="ConfigPath">`sluice daemon -c`: its clash_api sets the API address and secret, and `up` without params brings it up.</param>
/// <param name="Listen">HTTP address "host:port" unless the config's clash_api.external_controller pins one; null = no HTTP.</param>
public sealed record DaemonOptions(string SocketPath, string SecretFile, string StateDir, string? Listen, string? ConfigPath, string Version)
{
    public static DaemonOptions FromEnvironment(string version) =>
        new(DaemonPaths.Socket, DaemonPaths.SecretFile, DaemonPaths.StateDir, DaemonPaths.Listen, null, version);
}

/// <summary>
/// What the daemon needs from the host, supplied by the composition in `sluice daemon` (Linux) or by tests.
/// </summary>
/// <param name="Engine">The engine's OS view (TUN, routes, sockets, process lookup).</param>
/// <param name="ApplyGate">Loads the config's gate before the engine starts (it stays when the daemon dies); returns what to dispose at stop.</param>
/// <param name="GateStatus">One line on what the loaded gate holds; null when no gate is loaded.</param>
/// <param name="NetworkMonitor">A monitor of the host's links/addresses/routes that ignores the named TUN; null = none.</param>
public sealed record DaemonPlatform(
    Func<EnginePlatform> Engine,
    Func<SluiceConfig, ILogger, IDisposable?> ApplyGate,
    Func<string?> GateStatus,
    Func<Func<string?>, INetworkMonitor?> NetworkMonitor)
{
    /// <summary>Why a config's gate may not replace the loaded one without consent (docs/gate.md); null = it may.</summary>
    public Func<SluiceConfig, string?> GateRefusal { get; init; } = _ => null;

    /// <summary>The file source for a config's files, bound to an API caller (null = root or the daemon's own config).</summary>
    public Func<FileCaller?, IFileSource> Files { get; init; } = _ => BoundedFileSource.Instance;

    /// <summary>The protected apps running now that the loaded gate holds ("PID NAME [why]"); empty when none or no gate.</summary>
    public Func<IReadOnlyList<string>> HeldApps { get; init; } = () => [];
}
