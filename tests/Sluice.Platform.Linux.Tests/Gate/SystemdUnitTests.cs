using Sluice.Core.Gate;

namespace Sluice.Platform.Linux.Tests.Gate;

public sealed class SystemdUnitTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "sluice-unit-" + Guid.NewGuid().ToString("N")[..8]);

    [Fact]
    public void Unit_IsTemplatedFromInstallPaths_AndOrderedBeforeTheNetwork() =>
        Golden.Match("sluice-gate.service",
            SystemdUnit.Render(["/usr/lib/dotnet/dotnet", "/opt/sluice app/sluice.dll"], "/etc/sluice/config.json"));

    [Fact]
    public void ExecStart_ParsesBackToTheSameArguments()
    {
        string[] command = ["/usr/lib/dotnet/dotnet", "/opt/sluice app/sluice.dll"];
        string unit = SystemdUnit.Render(command, "/etc/sluice/con\"fig%.json");
        Assert.Equal([.. command, "gate", "apply", "-c", "/etc/sluice/con\"fig%%.json"], SystemdUnit.ExecStart(unit));
    }

    [Fact]
    public void RelativePaths_AreRefused() =>
        Assert.Throws<ArgumentException>(() => SystemdUnit.Render(["sluice"], "/etc/sluice/config.json"));

    [Fact]
    public void SystemdAnalyzeVerify_AcceptsTheUnit()
    {
        if (IpCommand.Run("sh", ["-c", "command -v systemd-analyze"], null).ExitCode != 0)
            Assert.Fail("systemd-analyze is not installed (apt-get install systemd); the unit cannot be verified");
        // ExecStart must name programs that exist: use this machine's shell and a real file.
        string config = Path.Combine(_root, "config.json");
        Directory.CreateDirectory(_root);
        File.WriteAllText(config, "{}");
        SystemdUnit.Install(_root, SystemdUnit.Render(["/bin/sh", "/dev/null"], config));
        var result = IpCommand.Run("systemd-analyze", ["verify", SystemdUnit.UnitPath(_root)], null);
        Assert.True(result.Succeeded, $"systemd-analyze verify rejected the unit:\n{result.Stderr}\n{File.ReadAllText(SystemdUnit.UnitPath(_root))}");
        Assert.DoesNotContain(GateDefaults.UnitName, result.Stderr); // no warnings about our unit either
    }

    [Fact]
    public void Install_EnablesLikeSystemctl_AndUninstallRemovesBoth()
    {
        SystemdUnit.Install(_root, SystemdUnit.Render(["/bin/sh"], "/etc/sluice/config.json"));
        Assert.True(SystemdUnit.IsEnabled(_root));
        Assert.Equal("/etc/systemd/system/sluice-gate.service", new FileInfo(SystemdUnit.WantsLink(_root)).LinkTarget);
        SystemdUnit.Install(_root, SystemdUnit.Render(["/bin/sh"], "/etc/sluice/config.json")); // twice: same result
        Assert.True(SystemdUnit.IsEnabled(_root));

        Assert.True(SystemdUnit.Uninstall(_root));
        Assert.False(File.Exists(SystemdUnit.UnitPath(_root)));
        Assert.Null(new FileInfo(SystemdUnit.WantsLink(_root)).LinkTarget);
        Assert.False(SystemdUnit.Uninstall(_root));
    }

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }
}
