namespace Sluice.Hosting.Linux;

/// <summary>
/// How to start this build of `sluice` as a separate process: the apphost itself, or the dotnet host with
/// sluice.dll next to the running assembly (a test or the demo runs from a folder that holds a copy).
/// </summary>
public static class SluiceBinary
{
    public static string[] Command()
    {
        string? self = Environment.ProcessPath;
        if (self is not null && Path.GetFileName(self) == "sluice") return [self];
        string dll = Path.Combine(AppContext.BaseDirectory, "sluice.dll");
        if (!File.Exists(dll)) throw new FileNotFoundException($"sluice.dll not found next to {AppContext.BaseDirectory}; build src/Sluice.Cli first");
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)
            ? host
            : (self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet");
        return [dotnet, dll];
    }

    /// <summary>The same command with every program resolved on PATH, for unit files (systemd wants absolute paths).</summary>
    public static string[] AbsoluteCommand() =>
        Command().Select(p => Path.IsPathRooted(p) ? p : ResolveOnPath(p)).ToArray();

    private static string ResolveOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, program)).FirstOrDefault(File.Exists) ?? program;
}
