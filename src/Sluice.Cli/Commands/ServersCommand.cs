using System.Text.Json;
using Sluice.Control;

namespace Sluice.Cli.Commands;

/// <summary>
/// `sluice servers [--ping [--url URL]] [--json]`: outbounds and groups (a group's current member marked),
/// with --ping the delay through each (Clash's delay test, in parallel).
/// </summary>
internal static class ServersCommand
{
    public static int Execute(CommandLine line)
    {
        line.AllowOnly([.. DaemonConnection.Options, "--url", "--timeout"]);
        string url = line.Options.GetValueOrDefault("--url") ?? "http://www.gstatic.com/generate_204";
        string timeout = line.Options.GetValueOrDefault("--timeout") ?? "5000";
        return DaemonConnection.Run(line, async client =>
        {
            var proxies = (await client.GetJsonAsync("proxies")).GetProperty("proxies").Deserialize(ApiJsonContext.Default.DictionaryStringClashProxy)!;
            proxies.Remove("GLOBAL");
            var delays = new Dictionary<string, string>();
            if (line.SetFlags.Contains("--ping"))
            {
                var probes = proxies.Values.Where(p => p.All is null && p.Type != "Reject").Select(async p =>
                {
                    try
                    {
                        var r = await client.GetJsonAsync($"proxies/{Uri.EscapeDataString(p.Name)}/delay?url={Uri.EscapeDataString(url)}&timeout={timeout}");
                        return (p.Name, $"{r.GetProperty("delay").GetInt32()} ms");
                    }
                    catch (ApiHttpException e)
                    {
                        return (p.Name, e.Status == 504 ? "timeout" : "failed");
                    }
                });
                foreach (var (name, delay) in await Task.WhenAll(probes)) delays[name] = delay;
            }
            if (line.SetFlags.Contains("--json"))
            {
                Console.WriteLine(JsonSerializer.Serialize(proxies.Values.Select(p => new ServerLine(p.Name, p.Type, p.Now, p.All, delays.GetValueOrDefault(p.Name))).ToArray(), CliJsonContext.Default.ServerLineArray));
                return ExitCodes.Ok;
            }
            var nowUsed = proxies.Values.Where(p => p.Now is not null).Select(p => p.Now!).ToHashSet();
            DaemonConnection.Table(["", "NAME", "TYPE", "DELAY", "MEMBERS"], proxies.Values.Select(p => (IReadOnlyList<string>)[
                nowUsed.Contains(p.Name) ? "*" : "", p.Name, p.Type, delays.GetValueOrDefault(p.Name) ?? "",
                p.All is null ? "" : $"now {p.Now}: {string.Join(", ", p.All)}"]));
            return ExitCodes.Ok;
        });
    }
}
