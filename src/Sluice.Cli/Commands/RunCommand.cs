using Sluice.Core.Configuration;
using Sluice.Hosting.Linux;
using Sluice.Hosting.Linux.Logging;

namespace Sluice.Cli.Commands;

/// <summary>
/// `sluice run -c config.json`: the engine in the foreground. SIGINT/SIGTERM stop it cleanly (routes,
/// rules and the TUN removed) well within two seconds; SIGUSR1 makes WireGuard peers handshake again.
/// </summary>
internal static class RunCommand
{
    public static int Execute(CommandLine line)
    {
        using var stop = new ManualResetEventSlim();
        using var signals = StopSignals.Register(stop.Set);
        line.AllowOnly("--config");
        var config = ConfigLoader.LoadFile(line.Require("--config", "CONFIG"), HostConfig.Origin);
        using var logs = EngineLogging.Create(config.Log, line.Debug);
        LinuxHost.RunForeground(config, logs, stop.WaitHandle);
        return 0;
    }
}
