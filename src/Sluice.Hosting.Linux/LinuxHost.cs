using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Sluice.Core;
using Sluice.Core.Configuration;
using Sluice.Daemon;
using Sluice.Hosting.Linux.Gate;
using Sluice.Hosting.Linux.Logging;
using Sluice.Platform.Linux.Network;

namespace Sluice.Hosting.Linux;

/// <summary>
/// The composition root on Linux: the engine in the foreground (`sluice run`) and the daemon
/// (`sluice daemon`), each assembled from the Linux platform, the gate and the log writers.
/// Order of a foreground run, closed in reverse: 1. the gate (it stays loaded after the engine stops);
/// 2. the route-hijack watch; 3. the engine; 4. SIGUSR1 (re-handshake, as a network change does).
/// </summary>
internal static class LinuxHost
{
    /// <summary>Runs the engine until <paramref name="stop"/> is set; SIGUSR1 makes WireGuard peers handshake again.</summary>
    public static void RunForeground(SluiceConfig config, ILoggerFactory logs, WaitHandle stop)
    {
        var logger = logs.CreateLogger("sluice");
        // The gate goes up before the engine and stays up after it, however it stops (docs/gate.md).
        using var routeWatch = EngineGate.Apply(config, logs.CreateLogger("gate"));
        using var engine = new SluiceEngine(config, LinuxPlatform.Create(), logs);
        engine.Start();
        using var sigusr1 = PosixSignalRegistration.Create((PosixSignal)10, context =>
        {
            context.Cancel = true;
            engine.NetworkChanged();
        });
        logger.LogInformation("running; send SIGINT or SIGTERM to stop");
        stop.WaitOne();
        logger.LogInformation("stopping");
        engine.Stop();
        logger.LogInformation("stopped; routes, rules and {Tun} removed", config.TunInbounds.FirstOrDefault()?.InterfaceName ?? "the TUN");
    }

    /// <summary>Serves the daemon (engine, API, dashboard) until <paramref name="stop"/> is cancelled.</summary>
    public static void ServeDaemon(DaemonOptions options, bool debug, CancellationToken stop)
    {
        var broadcast = new LogBroadcast { Minimum = debug ? LogLevel.Debug : LogLevel.Information };
        using var logs = LoggerFactory.Create(builder =>
        {
            builder.SetMinimumLevel(debug ? LogLevel.Debug : LogLevel.Information);
            EngineLogging.AddOwned(builder, LineLogWriter.ToConsole());
            builder.AddProvider(broadcast);
        });
        var platform = new DaemonPlatform(
            Engine: LinuxPlatform.Create,
            ApplyGate: EngineGate.Apply,
            GateStatus: EngineGate.Status,
            NetworkMonitor: tun => new NetlinkMonitor(tun))
        {
            GateRefusal = EngineGate.RefuseWeakening,
            Files = caller => caller is null ? Sluice.Platform.Linux.Files.RegularFileSource.Host : new Sluice.Platform.Linux.Files.RegularFileSource(caller),
            HeldApps = EngineGate.HeldApps,
        };
        var host = new DaemonHost(options, platform, logs, broadcast);
        host.RunAsync(() => logs.CreateLogger("daemon").LogInformation("daemon ready"), stop).GetAwaiter().GetResult();
    }
}
