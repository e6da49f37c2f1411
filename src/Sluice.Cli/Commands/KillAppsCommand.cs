using Sluice.Platform.Linux;

namespace Sluice.Cli.Commands;

/// <summary>`sluice kill-apps [--grace S]`: ends the apps the loaded gate holds (SIGTERM, then SIGKILL after the grace period, default 5 s).</summary>
internal static class KillAppsCommand
{
    public static int Execute(CommandLine line)
    {
        line.AllowOnly("--grace");
        var state = new LinuxGate().Read()
            ?? throw new InvalidOperationException("no gate is loaded in this network namespace: there are no protected apps to end");
        var apps = ProtectedApps.Find(state);
        if (apps.Count == 0)
        {
            Console.WriteLine("no protected apps running");
            return 0;
        }
        var killed = ProtectedApps.Kill(apps, GateCommand.Grace(line));
        Console.WriteLine($"ended {apps.Count} protected app(s): {GateCommand.List(apps)}");
        if (killed.Count > 0) Console.WriteLine($"SIGKILL after the grace period: {string.Join(", ", killed)}");
        return 0;
    }
}
