using System.Diagnostics;

namespace Sluice.Cli.Commands;

/// <summary>
/// `sluice demo`: starts `sluice-demo` (demo/Sluice.Demo), which builds the namespace testbed and shows
/// per-app routing with real processes. The demo is a program of its own, found next to this one, so the
/// shipped `sluice` carries no test infrastructure; its exit code is this command's.
/// </summary>
internal static class DemoCommand
{
    public static int Execute(CommandLine line)
    {
        line.AllowOnly();
        string folder = AppContext.BaseDirectory;
        string apphost = Path.Combine(folder, "sluice-demo");
        string dll = Path.Combine(folder, "sluice-demo.dll");
        ProcessStartInfo start;
        if (File.Exists(apphost))
        {
            start = new ProcessStartInfo(apphost);
        }
        else if (File.Exists(dll))
        {
            string? self = Environment.ProcessPath;
            start = new ProcessStartInfo(self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet");
            start.ArgumentList.Add(dll);
        }
        else
        {
            throw new InvalidOperationException(
                $"the demo is not part of this install (no sluice-demo in {folder}); from a source checkout run scripts/demo.sh");
        }
        using var demo = Process.Start(start) ?? throw new InvalidOperationException("could not start sluice-demo");
        demo.WaitForExit();
        return demo.ExitCode;
    }
}
