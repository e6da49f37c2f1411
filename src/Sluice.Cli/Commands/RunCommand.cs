using System.Runtime.InteropServices;
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
        line.AllowOnly("--config");
        var config = ConfigLoader.LoadFile(line.Require("--config", "CONFIG"), HostConfig.Origin);
        using var logs = EngineLogging.Create(config.Log, line.Debug);

        using var stop = new ManualResetEventSlim();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle);
        LinuxHost.RunForeground(config, logs, stop.WaitHandle);
        return 0;

        void Handle(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Set();
        }
    }
}
