using System.Text.Json;
using Sluice.Control;

namespace Sluice.Cli.Commands;

/// <summary>
/// `sluice apps [--json]`: apps seen this session with their lanes and traffic.
/// `sluice apps add [-c CONFIG] [--lane TAG] [NAME...]`: without names, lists the running processes and asks
/// which go on the protected lane; the config gets them in a process_name rule (see
/// <see cref="AppsConfigRewrite"/>) and, when the daemon runs that config, it reloads so their next flows
/// take the lane.
/// </summary>
internal static class AppsCommand
{
    public static int Execute(CommandLine line)
    {
        string sub = line.Arguments.FirstOrDefault() ?? "";
        return sub switch
        {
            "" or "list" => List(line),
            "add" => Add(line),
            _ => throw new UsageException($"apps {sub}: expected list or add"),
        };
    }

    private static int List(CommandLine line)
    {
        line.AllowOnly(DaemonConnection.Options);
        return DaemonConnection.Run(line, async client =>
        {
            var json = await client.GetJsonAsync("api/apps");
            if (line.SetFlags.Contains("--json"))
            {
                Console.WriteLine(json.GetRawText());
                return ExitCodes.Ok;
            }
            var apps = json.Deserialize(ApiJsonContext.Default.AppsData)!;
            DaemonConnection.Table(["APP", "LANES", "CONN", "DOWN", "UP", "PATH"], apps.Apps.Select(a => (IReadOnlyList<string>)[
                a.Name, string.Join(",", a.Lanes), a.Connections.ToString(System.Globalization.CultureInfo.InvariantCulture),
                DaemonConnection.Bytes(a.Download), DaemonConnection.Bytes(a.Upload), a.Path ?? ""]));
            return ExitCodes.Ok;
        });
    }

    private static int Add(CommandLine line)
    {
        line.AllowOnly([.. DaemonConnection.Options, "--config", "--lane"]);
        // The config: -c, else the file the daemon runs.
        string? configPath = line.Options.TryGetValue("--config", out var c) ? Path.GetFullPath(c) : null;
        StatusData? status = null;
        try
        {
            using var client = DaemonConnection.Open(line);
            status = client.CoreAsync("status").GetAwaiter().GetResult().DataAs<StatusData>();
        }
        catch (DaemonUnreachableException)
        {
        }
        configPath ??= status?.ConfigPath ?? throw new UsageException("apps add: which config? pass -c CONFIG (the daemon runs none from a file)");

        var edit = AppsConfigRewrite.Open(configPath);
        string lane = line.Options.GetValueOrDefault("--lane") ?? edit.DefaultLane()
            ?? throw new UsageException($"apps add: which lane? pass --lane TAG (outbounds: {string.Join(", ", edit.OutboundTags())})");

        var names = line.Arguments.Skip(1).ToList();
        if (names.Count == 0)
        {
            var processes = AppsProcessList.Running();
            Console.WriteLine($"Running processes ({processes.Count}):");
            for (int i = 0; i < processes.Count; i++)
                Console.WriteLine($"  {i + 1,4}  {processes[i].Name,-20} {processes[i].Path}  (pid {processes[i].Pid})");
            Console.Write($"Put which on lane \"{lane}\"? Numbers or names, comma-separated (empty: cancel): ");
            Console.Out.Flush();
            string answer = Console.ReadLine() ?? "";
            foreach (var token in answer.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (int.TryParse(token, out int n))
                {
                    if (n < 1 || n > processes.Count) throw new UsageException($"apps add: {n} is not in the list (1-{processes.Count})");
                    names.Add(processes[n - 1].Name);
                }
                else names.Add(token);
            }
            if (names.Count == 0)
            {
                Console.WriteLine("nothing chosen; the config is unchanged");
                return ExitCodes.Ok;
            }
        }

        var added = edit.AddApps(names.Distinct(StringComparer.Ordinal).ToList(), lane);
        if (added.Count == 0)
        {
            Console.WriteLine($"{string.Join(", ", names)} already on lane \"{lane}\"; the config is unchanged");
            return ExitCodes.Ok;
        }
        edit.Save();
        Console.WriteLine($"added {string.Join(", ", added)} to lane \"{lane}\" in {configPath} (previous version: {configPath}.bak)");

        if (status?.ConfigPath == configPath && status.State is EngineStates.Connected or EngineStates.Reconnecting or EngineStates.Error)
        {
            return DaemonConnection.Run(line, async client => DaemonConnection.Report(line, await client.CoreAsync("reload"),
                _ => Console.WriteLine("daemon reloaded: their next connections take the lane")));
        }
        return ExitCodes.Ok;
    }
}
