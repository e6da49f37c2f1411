using System.Text.RegularExpressions;
using Sluice.Cli.Reference;
using Sluice.Control;
using Sluice.Hosting.Linux.Doctor;

namespace Sluice.Cli.Tests.Reference;

public sealed class CommandTableTests
{
    private static readonly string[] Dispatched = ExtractDispatchedVerbs();

    /// <summary>The verbs Program.cs dispatches, read from its source so a new verb cannot skip the table.</summary>
    private static string[] ExtractDispatchedVerbs()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Sluice.sln"))) dir = dir.Parent;
        string program = File.ReadAllText(Path.Combine(dir!.FullName, "src", "Sluice.Cli", "Program.cs"));
        return Regex.Matches(program, "^\\s+\"([a-z-]+)\" =>", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToArray();
    }

    [Fact]
    public void EveryDispatchedVerb_IsInTheTable_AndHelpListsTheVisibleOnes()
    {
        Assert.Contains("doctor", Dispatched);
        var table = CommandTable.Verbs(includeHidden: true).ToHashSet();
        foreach (string verb in Dispatched) Assert.True(table.Contains(verb), $"`{verb}` is dispatched but missing from CommandTable");
        string help = CommandTable.Help();
        foreach (string verb in CommandTable.Verbs()) Assert.Contains($"\n  {verb}", help, StringComparison.Ordinal);
        Assert.DoesNotContain("completions", help, StringComparison.Ordinal);
    }

    [Fact]
    public void HelpOfAVerb_ListsItsLinesAndOptions_AndImportNamesWhatItReads()
    {
        string import = CommandTable.HelpOf("import")!;
        foreach (string part in new[] { "SRC [-o F]", "SRC --links", "vless://", "trojan://", "Clash YAML", "--output --links" })
            Assert.Contains(part, import, StringComparison.Ordinal);
        Assert.Null(CommandTable.HelpOf("frobnicate"));
    }

    [Theory]
    [InlineData("bash")]
    [InlineData("zsh")]
    [InlineData("fish")]
    public void Completions_OfferEveryVerbAndTheGateSubcommands(string shell)
    {
        string script = ShellCompletion.Render(shell);
        foreach (string verb in CommandTable.Verbs()) Assert.Contains(verb, script, StringComparison.Ordinal);
        foreach (string sub in new[] { "apply", "enable", "disable", "status" }) Assert.Contains(sub, script, StringComparison.Ordinal);
        Assert.Contains(shell == "fish" ? "-l config" : "--config", script, StringComparison.Ordinal);
    }

    [Fact]
    public void ManPage_HasAnEntryPerVerb_AndEscapesHyphens()
    {
        string man = ManPage.Render("1.2.3", new DateOnly(2026, 1, 2));
        Assert.StartsWith(".TH SLUICE 1 \"2026-01-02\" \"sluice 1.2.3\"", man, StringComparison.Ordinal);
        foreach (string verb in CommandTable.Verbs()) Assert.Contains($".B {verb.Replace("-", "\\-", StringComparison.Ordinal)}", man, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"(?m)^[^.\n][^\n]*\.B ", man);
    }

    [Fact]
    public void BlockedBanner_NamesTheHeldAppsAndTheThreeWaysOut_OnlyWhenNotConnectedUnderAGate()
    {
        Assert.True(BlockedBanner.Applies(EngineStates.Disconnected, "mode all"));
        Assert.False(BlockedBanner.Applies(EngineStates.Connected, "mode all"));
        Assert.False(BlockedBanner.Applies(EngineStates.Disconnected, null));
        var lines = BlockedBanner.Lines("disconnected", "mode protected: processes of uid 1001", ["42 firefox [uid 1001]"]);
        Assert.Equal("INTERNET BLOCKED for protected apps — the kill switch is on", lines[0]);
        Assert.Contains(lines, l => l.Contains("42 firefox", StringComparison.Ordinal));
        foreach (string way in new[] { "sluice up", "sluice kill-apps", "sluice gate disable" })
            Assert.Contains(lines, l => l.TrimStart().StartsWith(way, StringComparison.Ordinal));
    }
}

public sealed class HostChecksTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sluice-doctor-").FullName;

    private void Write(string path, string text = "")
    {
        string full = Path.Combine(_root, path.TrimStart('/'));
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, text);
    }

    [Fact]
    public void Doctor_FailsWithoutTun_AndNamesOtherVpnInterfaces_ButNotSluices()
    {
        Assert.Equal(CheckStatus.Fail, HostChecks.Tun(_root).Status);
        Write("/dev/net/tun");
        Assert.Equal(CheckStatus.Ok, HostChecks.Tun(_root).Status);

        Write("/sys/class/net/sluice0/tun_flags", "0x1001");
        Write("/sys/class/net/eth0/uevent", "INTERFACE=eth0");
        Assert.Equal(CheckStatus.Ok, HostChecks.OtherVpnInterfaces(_root).Single().Status);
        Write("/sys/class/net/wg0/uevent", "DEVTYPE=wireguard\nINTERFACE=wg0");
        Write("/sys/class/net/tun0/tun_flags", "0x1001");
        var vpn = HostChecks.OtherVpnInterfaces(_root).Single();
        Assert.Equal(CheckStatus.Warn, vpn.Status);
        Assert.Contains("tun0 (tun/tap), wg0 (wireguard)", vpn.Finding, StringComparison.Ordinal);
        Assert.DoesNotContain("sluice0", vpn.Finding, StringComparison.Ordinal);
        Assert.NotNull(vpn.Fix);
    }

    [Fact]
    public void Doctor_TellsCgroupV2FromV1WithoutNetCls_AndSpotsResolvedsStub()
    {
        Write("/sys/fs/cgroup/unified/cgroup.procs");
        Assert.Equal(CheckStatus.Warn, HostChecks.Cgroups(_root).Status);
        Write("/sys/fs/cgroup/cgroup.controllers", "cpu memory");
        Assert.Equal(CheckStatus.Ok, HostChecks.Cgroups(_root).Status);

        Write("/etc/resolv.conf", "nameserver 127.0.0.53\noptions edns0\n");
        var dns = HostChecks.Resolved(_root);
        Assert.Equal(CheckStatus.Note, dns.Status);
        Assert.Contains("hijack-dns", dns.Fix, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
