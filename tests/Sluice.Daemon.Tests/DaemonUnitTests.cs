using System.Diagnostics;
using Sluice.Platform.Linux.Systemd;

namespace Sluice.Daemon.Tests;

public sealed class DaemonUnitTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sluice-unit-").FullName;

    [Fact]
    public void Render_RestartsAlways_AfterTheGate_WithItsDirectories()
    {
        string unit = DaemonUnit.Render(["/usr/bin/dotnet", "/opt/sluice/sluice.dll"], "/etc/sluice/config.json");

        Assert.Contains("ExecStart=/usr/bin/dotnet /opt/sluice/sluice.dll daemon -c /etc/sluice/config.json\n", unit);
        Assert.Contains("Restart=always\n", unit);
        Assert.Contains("After=network-pre.target sluice-gate.service\n", unit);
        Assert.Contains("RuntimeDirectory=sluice\n", unit);
        Assert.Contains("WantedBy=multi-user.target\n", unit);
        Assert.Contains("ExecStart=\"/opt/my sluice/sluice\" daemon\n", DaemonUnit.Render(["/opt/my sluice/sluice"], null));
        Assert.Throws<ArgumentException>(() => DaemonUnit.Render(["sluice"], null));
    }

    [Fact]
    public void Install_WritesAUnitThatSystemdAnalyzeAccepts()
    {
        // A real program for ExecStart: systemd-analyze verify checks that it exists and is executable.
        string program = Path.Combine(_root, "opt", "sluice");
        Directory.CreateDirectory(Path.GetDirectoryName(program)!);
        File.Copy("/bin/true", program);
        DaemonUnit.Install(_root, DaemonUnit.Render([program], null));
        Assert.True(new FileInfo(DaemonUnit.WantsLink(_root)).LinkTarget is not null);

        var info = new ProcessStartInfo("systemd-analyze", ["verify", DaemonUnit.UnitPath(_root)]) { RedirectStandardError = true, RedirectStandardOutput = true };
        using var verify = Process.Start(info)!;
        string errors = verify.StandardError.ReadToEnd() + verify.StandardOutput.ReadToEnd();
        verify.WaitForExit();
        // Ordering after sluice-gate.service does not need that unit to exist: verify must pass outright.
        Assert.True(verify.ExitCode == 0, $"systemd-analyze verify exited {verify.ExitCode}: {errors}");
        Assert.DoesNotContain("sluice.service", errors, StringComparison.Ordinal);

        Assert.True(DaemonUnit.Uninstall(_root));
        Assert.False(File.Exists(DaemonUnit.UnitPath(_root)));
    }

    /// <summary>systemd's own review of the unit (offline, PID 1 is not systemd here): 5.3 now, plain root is 9.6.</summary>
    [Fact]
    public void SystemdAnalyzeSecurity_RatesTheUnitOk()
    {
        string program = Path.Combine(_root, "opt", "sluice");
        Directory.CreateDirectory(Path.GetDirectoryName(program)!);
        File.Copy("/bin/true", program);
        DaemonUnit.Install(_root, DaemonUnit.Render([program], null));

        var info = new ProcessStartInfo("systemd-analyze", ["security", "--offline=true", DaemonUnit.UnitPath(_root)]) { RedirectStandardError = true, RedirectStandardOutput = true };
        using var review = Process.Start(info)!;
        string text = review.StandardOutput.ReadToEnd() + review.StandardError.ReadToEnd();
        review.WaitForExit();
        var score = System.Text.RegularExpressions.Regex.Match(text, @"Overall exposure level for sluice\.service: ([0-9.]+)");
        Assert.True(score.Success, text);
        double exposure = double.Parse(score.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(exposure <= 5.5, $"exposure {exposure} (plain root is 9.6):\n{text}");
        string unit = File.ReadAllText(DaemonUnit.UnitPath(_root));
        Assert.Contains("NoNewPrivileges=yes", unit);
        Assert.Contains("ProtectSystem=strict", unit);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
