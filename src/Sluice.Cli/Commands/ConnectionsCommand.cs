using System.Text.Json;
using Sluice.Control;

namespace Sluice.Cli.Commands;

/// <summary>`sluice connections [--json] [--close ID|all]`: live flows with app, lane and bytes; closing one resets it.</summary>
internal static class ConnectionsCommand
{
    public static int Execute(CommandLine line)
    {
        line.AllowOnly([.. DaemonConnection.Options, "--close"]);
        return DaemonConnection.Run(line, async client =>
        {
            if (line.Options.TryGetValue("--close", out var id))
            {
                string path = id == "all" ? "connections" : $"connections/{Uri.EscapeDataString(id)}";
                using var response = await client.SendAsync(HttpMethod.Delete, path, null);
                if (!response.IsSuccessStatusCode)
                {
                    Console.Error.WriteLine($"sluice: no live connection {id} (see `sluice connections`)");
                    return ExitCodes.Failed;
                }
                Console.WriteLine(id == "all" ? "closed every connection" : $"closed {id}");
                return ExitCodes.Ok;
            }
            var json = await client.GetJsonAsync("connections");
            if (line.SetFlags.Contains("--json"))
            {
                Console.WriteLine(json.GetRawText());
                return ExitCodes.Ok;
            }
            var snapshot = json.Deserialize(ApiJsonContext.Default.ClashConnections)!;
            DaemonConnection.Table(["ID", "APP", "NET", "DESTINATION", "HOST", "LANE", "RULE", "UP", "DOWN", "AGE", "PATH"],
                snapshot.Connections.Select(c => (IReadOnlyList<string>)[
                    c.Id, c.Metadata.Process is { Length: > 0 } p ? p : "?", c.Metadata.Network,
                    $"{c.Metadata.DestinationIp}:{c.Metadata.DestinationPort}", c.Metadata.Host, string.Join(">", c.Chains), c.Rule,
                    DaemonConnection.Bytes(c.Upload), DaemonConnection.Bytes(c.Download), DaemonConnection.Ago(c.Start).Replace(" ago", ""),
                    c.Metadata.ProcessPath]));
            Console.WriteLine($"{snapshot.Connections.Count} connections; total up {DaemonConnection.Bytes(snapshot.UploadTotal)}, down {DaemonConnection.Bytes(snapshot.DownloadTotal)}");
            return ExitCodes.Ok;
        });
    }
}
