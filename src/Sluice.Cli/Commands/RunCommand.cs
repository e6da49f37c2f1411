using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Sluice.Core;
using Sluice.Core.Configuration;
using Sluice.Platform.Linux;

namespace Sluice.Cli.Commands;

/// <summary>
/// `sluice run -c config.json`: the engine in the foreground. SIGINT/SIGTERM stop it cleanly (routes,
/// rules and the TUN removed) well within two seconds; SIGUSR1 makes WireGuard peers handshake again.
/// </summary>
internal static class RunCommand
{
    public static int Execute(CommandLine line)
    {
        line.AllowOnly("--config");
        var config = ConfigLoader.LoadFile(line.Require("--config", "CONFIG"));
        using var logs = EngineLogging.Create(config.Log, line.Debug);
        var logger = logs.CreateLogger("sluice");

        using var stop = new ManualResetEventSlim();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle);

        // The gate goes up before the engine and stays up after it, however it stops (docs/gate.md).
        using var routeWatch = GateCommand.ApplyForRun(config, logs.CreateLogger("gate"));
        using var engine = new SluiceEngine(config, LinuxPlatform.Create(), logs);
        engine.Start();
        // SIGUSR1: handshake every WireGuard peer again (what a network change does).
        using var sigusr1 = PosixSignalRegistration.Create((PosixSignal)10, context =>
        {
            context.Cancel = true;
            engine.NetworkChanged();
        });
        logger.LogInformation("running; send SIGINT or SIGTERM to stop");
        stop.Wait();
        logger.LogInformation("stopping");
        engine.Stop();
        logger.LogInformation("stopped; routes, rules and {Tun} removed", config.TunInbounds.FirstOrDefault()?.InterfaceName ?? "the TUN");
        return 0;

        void Handle(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Set();
        }
    }
}
