using Sluice.Hosting.Linux.Doctor;

namespace Sluice.Cli.Commands;

/// <summary>`sluice doctor`: one line per check with its status, and the fix under it. Exit 1 when a check failed.</summary>
internal static class DoctorCommand
{
    public static int Execute(CommandLine line)
    {
        line.AllowOnly();
        var checks = HostChecks.Run();
        int width = checks.Max(c => c.Name.Length);
        foreach (var check in checks)
        {
            string status = check.Status switch
            {
                CheckStatus.Ok => " ok ",
                CheckStatus.Note => "note",
                CheckStatus.Warn => "WARN",
                _ => "FAIL",
            };
            Console.WriteLine($"[{status}] {check.Name.PadRight(width)}  {check.Finding}");
            if (check.Fix is not null && check.Status != CheckStatus.Ok) Console.WriteLine($"       {new string(' ', width)}  fix: {check.Fix}");
        }
        return checks.Any(c => c.Status == CheckStatus.Fail) ? 1 : 0;
    }
}
