namespace Sluice.Cli.Commands;

/// <summary>Running programs from /proc, one per process name (comm), kernel threads (no exe) left out.</summary>
internal static class AppsProcessList
{
    public sealed record RunningApp(string Name, string Path, int Pid);

    public static IReadOnlyList<RunningApp> Running()
    {
        var byName = new Dictionary<string, RunningApp>(StringComparer.Ordinal);
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            try
            {
                string? exe = new FileInfo(Path.Combine(dir, "exe")).LinkTarget;
                if (exe is null) continue;
                string name = File.ReadAllText(Path.Combine(dir, "comm")).Trim();
                if (name.Length == 0 || byName.ContainsKey(name)) continue;
                byName[name] = new RunningApp(name, exe.Replace(" (deleted)", "", StringComparison.Ordinal), pid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // gone meanwhile, or not ours to read
            }
        }
        return byName.Values.OrderBy(a => a.Name, StringComparer.Ordinal).ToArray();
    }
}
