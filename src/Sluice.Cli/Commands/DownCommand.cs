namespace Sluice.Cli.Commands;

/// <summary>`sluice down`: the engine stops (routes, rules and the TUN removed); the gate, if loaded, stays closed.</summary>
internal static class DownCommand
{
    public static int Execute(CommandLine line)
    {
        line.AllowOnly(DaemonConnection.Options);
        return DaemonConnection.Run(line, async client => DaemonConnection.Report(line, await client.CoreAsync("down"),
            _ => Console.WriteLine("disconnected")));
    }
}
