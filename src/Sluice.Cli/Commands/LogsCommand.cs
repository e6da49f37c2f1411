using System.Text.Json;
using Sluice.Control;

namespace Sluice.Cli.Commands;

/// <summary>`sluice logs [-f] [--level debug|info|warning|error] [--lines N]`: the daemon's recent log, and with -f the live one.</summary>
internal static class LogsCommand
{
    public static int Execute(CommandLine line)
    {
        line.AllowOnly([.. DaemonConnection.Options, "--level", "--lines"]);
        bool follow = line.SetFlags.Contains("--follow");
        string level = line.Options.GetValueOrDefault("--level") ?? "info";
        int lines = line.Options.TryGetValue("--lines", out var n) && int.TryParse(n, out var parsed) ? parsed : follow ? 20 : 100;
        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        return DaemonConnection.Run(line, async client =>
        {
            try
            {
                await foreach (var text in client.StreamLinesAsync($"logs?level={Uri.EscapeDataString(level)}&tail={lines}&follow={(follow ? "true" : "false")}", cancel.Token))
                {
                    if (line.SetFlags.Contains("--json"))
                    {
                        Console.WriteLine(text);
                        continue;
                    }
                    var entry = JsonSerializer.Deserialize(text, ApiJsonContext.Default.ClashLog)!;
                    Console.WriteLine($"{entry.Type,-7} {entry.Payload}");
                }
            }
            catch (OperationCanceledException)
            {
            }
            return ExitCodes.Ok;
        });
    }
}
