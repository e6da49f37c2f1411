using Sluice.Control;

namespace Sluice.Cli.Commands;

/// <summary>`sluice mode [MODE]`: prints the Clash mode, or switches it (rule, global, direct, or a mode the rules name) for the next flows.</summary>
internal static class ModeCommand
{
    public static int Execute(CommandLine line)
    {
        line.AllowOnly(DaemonConnection.Options);
        if (line.Arguments.Count > 1) throw new UsageException("mode [rule|global|direct|MODE]");
        object? parameters = line.Arguments.Count == 1 ? new { mode = line.Arguments[0] } : null;
        return DaemonConnection.Run(line, async client => DaemonConnection.Report(line, await client.CoreAsync("mode", parameters), data =>
        {
            var mode = data.DataAs<ModeData>()!;
            Console.WriteLine($"mode {mode.Mode} (modes: {string.Join(", ", mode.Modes)})");
        }));
    }
}
