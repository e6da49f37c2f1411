namespace Sluice.Hosting.Linux;

/// <summary>
/// How to start this build of `sluice` as a separate process. In order: $SLUICE_BINARY (a path to any build,
/// e.g. the NativeAOT one); this process itself when it is `sluice`; the NativeAOT binary
/// scripts/build-native.sh leaves in artifacts/native/linux-x64/ when it is newer than the sluice.dll next to
/// us (so a stale native build never hides a code change); else sluice.dll through dotnet.
/// </summary>
public static class SluiceBinary
{
    public const string Variable = "SLUICE_BINARY";

    public static string[] Command()
    {
        if (Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } given)
        {
            string full = Path.GetFullPath(given);
            if (!File.Exists(full)) throw new FileNotFoundException($"{Variable}={given}: no such file; build it with scripts/build-native.sh or unset {Variable}");
            return [full];
        }
        string? self = Environment.ProcessPath;
        if (self is not null && Path.GetFileName(self) == "sluice") return [self];
        string dll = Path.Combine(AppContext.BaseDirectory, "sluice.dll");
        if (!File.Exists(dll)) throw new FileNotFoundException($"sluice.dll not found next to {AppContext.BaseDirectory}; build src/Sluice.Cli first");
        if (NativeBuild() is { } native && File.GetLastWriteTimeUtc(native) >= File.GetLastWriteTimeUtc(dll)) return [native];
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

    /// <summary>artifacts/native/linux-x64/sluice of the checkout these binaries were built in, if it exists.</summary>
    private static string? NativeBuild()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (!File.Exists(Path.Combine(dir.FullName, "Sluice.sln"))) continue;
            string candidate = Path.Combine(dir.FullName, "artifacts", "native", "linux-x64", "sluice");
            return File.Exists(candidate) ? candidate : null;
        }
        return null;
    }
}
