using System.Reflection;

namespace Sluice.Cli.Commands;

internal static class VersionCommand
{
    public static string Version =>
        typeof(VersionCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    public static int Execute()
    {
        Console.WriteLine($"sluice {Version} (.NET {Environment.Version}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription.Trim()})");
        return 0;
    }
}
