namespace Sluice.Cli.Testbed;

/// <summary>How to start this build of `sluice` as a separate process.</summary>
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
}
