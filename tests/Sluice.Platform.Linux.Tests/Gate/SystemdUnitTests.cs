using Sluice.Core.Gate;

namespace Sluice.Platform.Linux.Tests.Gate;

public sealed class SystemdUnitTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sluice-unit-").FullName;

    [Fact]
    public void Unit_LoadsTheStoredRuleset_AfterNftablesService_AndBeforeTheNetwork() =>
        Golden.Match("sluice-gate.service", SystemdUnit.Render("/usr/sbin/nft", "/etc/sluice/gate.nft"));

    [Fact]
    public void ExecStart_ParsesBackToTheSameArguments_DenyAllFirst_ThenTheStoredFile()
    {
        var lines = SystemdUnit.ExecStarts(SystemdUnit.Render("/usr/sbin/nft", "/etc/sl uice/ga\"te.nft"));
        Assert.Equal(2, lines.Count);
        Assert.False(lines[0].IgnoreFailure);
        Assert.Equal(["/usr/sbin/nft", SystemdUnit.DenyAll()], lines[0].Argv);
        Assert.True(lines[1].IgnoreFailure);
        Assert.Equal(["/usr/sbin/nft", "-f", "/etc/sl uice/ga\"te.nft"], lines[1].Argv);
    }

    [Fact]
    public void DenyAll_IsModeAll_WithTheDefaultMarkAndTun()
    {
        string denyAll = SystemdUnit.DenyAll();
        Assert.DoesNotContain('\n', denyAll);
        var state = GateState.Parse(denyAll.Replace(';', '\n'));
        Assert.NotNull(state);
        Assert.Equal(GateMode.All, state.Mode);
        Assert.Contains("counter drop comment \"held: outside the tunnel\"", denyAll);
    }

    [Fact]
    public void RelativePaths_AreRefused() =>
        Assert.Throws<ArgumentException>(() => SystemdUnit.Render("nft", "/etc/sluice/gate.nft"));

    [Fact]
    public void SystemdAnalyzeVerify_AcceptsTheUnit()
    {
        if (IpCommand.Run("sh", ["-c", "command -v systemd-analyze"], null).ExitCode != 0)
            Assert.Fail("systemd-analyze is not installed (apt-get install systemd); the unit cannot be verified");
        // ExecStart must name programs that exist: use this machine's shell.
        Directory.CreateDirectory(_root);
        SystemdUnit.Install(_root, SystemdUnit.Render("/bin/sh", "/etc/sluice/gate.nft"));
        var result = IpCommand.Run("systemd-analyze", ["verify", SystemdUnit.UnitPath(_root)], null);
        Assert.True(result.Succeeded, $"systemd-analyze verify rejected the unit:\n{result.Stderr}\n{File.ReadAllText(SystemdUnit.UnitPath(_root))}");
        Assert.DoesNotContain(GateDefaults.UnitName, result.Stderr); // no warnings about our unit either
    }

    [Fact]
    public void Install_EnablesLikeSystemctl_AndUninstallRemovesBoth()
    {
        SystemdUnit.Install(_root, SystemdUnit.Render("/bin/sh", "/etc/sluice/gate.nft"));
        Assert.True(SystemdUnit.IsEnabled(_root));
        Assert.Equal("/etc/systemd/system/sluice-gate.service", new FileInfo(SystemdUnit.WantsLink(_root)).LinkTarget);
        SystemdUnit.Install(_root, SystemdUnit.Render("/bin/sh", "/etc/sluice/gate.nft")); // twice: same result
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
