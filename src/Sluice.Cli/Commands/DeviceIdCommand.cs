using Sluice.Daemon;

namespace Sluice.Cli.Commands;

/// <summary>`sluice device-id`: this machine's stable id for Sluice (an app-specific HMAC of /etc/machine-id), the same the daemon's GET /api/device/udid answers.</summary>
internal static class DeviceIdCommand
{
    public static int Execute(CommandLine line)
    {
        line.AllowOnly();
        Console.WriteLine(DeviceId.Read());
        return 0;
    }
}
