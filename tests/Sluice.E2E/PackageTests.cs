using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// The .deb as a user gets it (scripts/package.sh; scripts/test.sh builds it after the NativeAOT build):
/// its contents, and install → run → upgrade → remove → purge in a <see cref="ThrowawayRoot"/>, with the
/// daemon started from its installed unit's own command line inside a testbed namespace. The host's dpkg
/// database, groups and /usr/bin are compared before and after.
/// </summary>
public sealed class PackageTests : IDisposable
{
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create(startPeers: false);
    private readonly string _work = Directory.CreateTempSubdirectory("sluice-pkg-").FullName;

    [Fact]
    public void Package_HoldsTheNativeBinaryUnitsConfigCompletionsManPage_AndSoundMaintainerScripts()
    {
        string deb = PackageBuild.Deb();
        var listing = Exec.Check("dpkg-deb", "--contents", deb);
        foreach (string path in new[]
                 {
                     "./usr/bin/sluice", "./lib/systemd/system/sluice.service", "./lib/systemd/system/sluice-gate.service",
                     "./etc/sluice/config.json", "./usr/share/bash-completion/completions/sluice", "./usr/share/zsh/vendor-completions/_sluice",
                     "./usr/share/fish/vendor_completions.d/sluice.fish", "./usr/share/man/man1/sluice.1.gz", "./usr/share/doc/sluice/copyright",
                 })
            Assert.True(Regex.IsMatch(listing, $@"root/root .* {Regex.Escape(path)}$", RegexOptions.Multiline), $"{path} missing or not root-owned in {deb}:\n{listing}");
        Assert.DoesNotContain("/work/", listing, StringComparison.Ordinal);

        string control = Path.Combine(_work, "control");
        Exec.Check("dpkg-deb", "--control", deb, control);
        Assert.Equal("/etc/sluice/config.json", File.ReadAllText(Path.Combine(control, "conffiles")).Trim());
        foreach (string script in new[] { "postinst", "prerm", "postrm" })
        {
            string file = Path.Combine(control, script);
            Assert.True((File.GetUnixFileMode(file) & UnixFileMode.UserExecute) != 0, $"{script} is not executable");
            var syntax = Exec.Run(TimeSpan.FromSeconds(10), "sh", "-n", file);
            Assert.True(syntax.Ok, $"{script}: {syntax}");
        }
        string fields = Exec.Check("dpkg-deb", "--field", deb);
        Assert.Matches(@"(?m)^Depends: .*libc6.*nftables", fields);

        // The units name the installed binary, not a build path, and the man page renders.
        string tree = Path.Combine(_work, "tree");
        Exec.Check("dpkg-deb", "--extract", deb, tree);
        string unit = File.ReadAllText(Path.Combine(tree, "lib/systemd/system/sluice.service"));
        Assert.Contains("ExecStart=/usr/bin/sluice daemon -c /etc/sluice/config.json", unit, StringComparison.Ordinal);
        Assert.Contains("ExecStart=/usr/sbin/nft -f /etc/sluice/gate.nft".Replace("ExecStart=", "ExecStart=-", StringComparison.Ordinal),
            File.ReadAllText(Path.Combine(tree, "lib/systemd/system/sluice-gate.service")), StringComparison.Ordinal);
        var man = Exec.Run(TimeSpan.FromSeconds(30), "sh", "-c", $"zcat '{tree}/usr/share/man/man1/sluice.1.gz' | man -l -P cat - 2>&1");
        Assert.Contains("gate disable", man.Stdout, StringComparison.Ordinal);
        var bash = Exec.Run(TimeSpan.FromSeconds(10), "bash", "-n", Path.Combine(tree, "usr/share/bash-completion/completions/sluice"));
        Assert.True(bash.Ok, bash.ToString());
        // The completion offers what `sluice help` lists.
        var complete = Exec.Run(TimeSpan.FromSeconds(10), "bash", "-c",
            $". '{tree}/usr/share/bash-completion/completions/sluice'; COMP_WORDS=(sluice ga); COMP_CWORD=1; _sluice; echo ${{COMPREPLY[@]}}; COMP_WORDS=(sluice gate di); COMP_CWORD=2; _sluice; echo ${{COMPREPLY[@]}}");
        Assert.Equal("gate\ndisable", complete.Stdout.Trim());
    }

    [Fact]
    public void Package_InstallsRunsUpgradesAndPurges_InAThrowawayRoot_AndTheHostStaysUnchanged()
    {
        string deb = PackageBuild.Deb();
        string version = PackageBuild.Version(deb);
        string newer = version + "+upgrade1";
        string pkgs = Path.Combine(_work, "pkgs");
        Directory.CreateDirectory(pkgs);
        File.Copy(deb, Path.Combine(pkgs, "old.deb"));
        PackageBuild.Build(newer, pkgs);
        string newDeb = Directory.GetFiles(pkgs, $"sluice_{newer}_*.deb").Single();
        File.Move(newDeb, Path.Combine(pkgs, "new.deb"));
        var hostBefore = HostFingerprint();

        using (var root = ThrowawayRoot.Create(pkgs))
        {
            string P(string inside) => ThrowawayRoot.PackagesInside + "/" + inside;
            var install = root.Run($"dpkg -i {P("old.deb")}");
            Assert.True(install.Ok, "dpkg -i: " + install);
            Assert.Contains("systemd is not running here", install.Stdout, StringComparison.Ordinal);
            var facts = root.Run("""
                getent group sluice >/dev/null && echo group
                stat -c '%a %U' /etc/sluice/secret
                test -L /etc/systemd/system/multi-user.target.wants/sluice.service && echo enabled
                stat -c '%a' /var/lib/sluice
                """);
            Assert.Equal("group\n600 root\nenabled\n700", facts.Stdout.Trim());
            var verify = root.Run("systemd-analyze verify /lib/systemd/system/sluice.service /lib/systemd/system/sluice-gate.service 2>&1");
            Assert.True(verify.Ok && !verify.Stdout.Contains("sluice", StringComparison.Ordinal), "systemd-analyze verify: " + verify);

            var ver = root.Run("/usr/bin/sluice version");
            Assert.True(ver.Ok && ver.Stdout.StartsWith($"sluice {version}", StringComparison.Ordinal), ver.ToString());
            var check = root.Run("/usr/bin/sluice check -c /etc/sluice/config.json");
            Assert.True(check.Ok, "the shipped example config does not pass `check`: " + check);

            // The daemon as its unit starts it: ExecStart with the unit's Environment, in the testbed's client namespace.
            string unit = root.Run("cat /lib/systemd/system/sluice.service").Stdout;
            string exec = Regex.Match(unit, "(?m)^ExecStart=(.*)$").Groups[1].Value;
            string env = Regex.Match(unit, "(?m)^Environment=(.*)$").Groups[1].Value;
            Assert.Equal("/usr/bin/sluice daemon -c /etc/sluice/config.json", exec);
            var daemon = root.Start($"env {env} {exec}", _testbed.Client);
            Assert.True(daemon.WaitFor("daemon ready", TimeSpan.FromSeconds(60)), "the unit's command did not serve:\n" + daemon.Log);
            Assert.Equal("660 root sluice", root.Run("stat -c '%a %U %G' /run/sluice/sluice.sock").Stdout.Trim());

            // A member of the group drives the daemon without sudo; someone else gets the one-line hint.
            string member = $"sl{Environment.ProcessId % 100000}in", outsider = $"sl{Environment.ProcessId % 100000}out";
            try
            {
                Assert.True(root.Run($"useradd --no-create-home --groups sluice {member} && useradd --no-create-home {outsider}").Ok);
                string As(string user, string command) => $"setpriv --reuid={user} --regid={user} --init-groups /usr/bin/sluice {command}";
                var status = root.Run(As(member, "status"), _testbed.Client);
                Assert.True(status.ExitCode == 4 && status.Stdout.Contains("state      disconnected", StringComparison.Ordinal), "member status: " + status);
                var up = root.Run(As(member, "up"), _testbed.Client);
                Assert.True(up.Ok, "member `sluice up`: " + up + "\n" + daemon.Log);
                var connected = root.Run(As(member, "status"), _testbed.Client);
                Assert.True(connected.Ok && connected.Stdout.Contains("state      connected", StringComparison.Ordinal), "member status after up: " + connected);
                Assert.True(root.Run(As(member, "down"), _testbed.Client).Ok);

                var refused = root.Run(As(outsider, "status"), _testbed.Client);
                Assert.Equal(3, refused.ExitCode);
                string hint = refused.Stderr.Trim();
                Assert.DoesNotContain('\n', hint);
                Assert.Contains("permission denied", hint, StringComparison.Ordinal);
                Assert.Contains("usermod -aG sluice", hint, StringComparison.Ordinal);
            }
            finally
            {
                root.Run($"userdel {member}; userdel {outsider}");
            }
            daemon.Signal(Exec.SigTerm);
            Assert.True(daemon.WaitForExit(TimeSpan.FromSeconds(20)), "the daemon did not stop on SIGTERM");

            // Upgrade: the new version replaces the binary; config and secret are kept.
            string secret = root.Run("cat /etc/sluice/secret").Stdout;
            Assert.True(root.Run("echo '// edited by the admin' >> /etc/sluice/config.json").Ok);
            var upgrade = root.Run($"dpkg -i --force-confold {P("new.deb")}");
            Assert.True(upgrade.Ok, "upgrade: " + upgrade);
            Assert.Equal(newer, root.Run("dpkg-query -W -f '${Version}' sluice").Stdout);
            Assert.Equal(secret, root.Run("cat /etc/sluice/secret").Stdout);
            Assert.Contains("edited by the admin", root.Run("cat /etc/sluice/config.json").Stdout, StringComparison.Ordinal);
            Assert.True(root.Run("/usr/bin/sluice version").Ok);

            // remove keeps configuration; purge removes state, secret and configuration.
            Assert.True(root.Run("dpkg -r sluice").Ok);
            Assert.Equal("config kept", root.Run("test ! -e /usr/bin/sluice && test -e /etc/sluice/config.json && test -e /etc/sluice/secret && echo config kept").Stdout.Trim());
            var purge = root.Run("dpkg -P sluice");
            Assert.True(purge.Ok, "purge: " + purge);
            Assert.Equal("gone", root.Run("test ! -e /etc/sluice && test ! -e /var/lib/sluice && test ! -e /etc/systemd/system/multi-user.target.wants/sluice.service && echo gone").Stdout.Trim());
        }
        Assert.Equal(hostBefore, HostFingerprint());
    }

    /// <summary>What an install on the host itself would have changed.</summary>
    private static string HostFingerprint()
    {
        string Hash(string path) => File.Exists(path) ? Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))) : "absent";
        return string.Join(' ', Hash("/var/lib/dpkg/status"), Hash("/etc/group"), Hash("/etc/passwd"), Hash("/usr/bin/sluice"),
            Directory.Exists("/etc/sluice") ? "etc-sluice" : "no-etc-sluice", File.Exists("/lib/systemd/system/sluice.service") ? "unit" : "no-unit");
    }

    public void Dispose()
    {
        _testbed.Dispose();
        Directory.Delete(_work, recursive: true);
    }
}

/// <summary>The package under test: dist/sluice_*_amd64.deb from scripts/test.sh, else built now (it needs the NativeAOT build).</summary>
internal static class PackageBuild
{
    private static readonly Lazy<string> Built = new(() =>
    {
        string dist = Path.Combine(DashboardTests.RepoRoot(), "dist");
        string? deb = Directory.Exists(dist) ? Directory.GetFiles(dist, "sluice_*_amd64.deb").OrderBy(File.GetLastWriteTimeUtc).LastOrDefault() : null;
        if (deb is not null) return deb;
        Build(null, dist);
        return Directory.GetFiles(dist, "sluice_*_amd64.deb").Single();
    });

    public static string Deb() => Built.Value;

    public static string Version(string deb) => Exec.Check("dpkg-deb", "--field", deb, "Version").Trim();

    public static void Build(string? version, string outDir)
    {
        string script = Path.Combine(DashboardTests.RepoRoot(), "scripts", "package.sh");
        var result = Exec.Run(TimeSpan.FromMinutes(5), ["bash", script, "--out", outDir, .. version is null ? Array.Empty<string>() : ["--version", version]]);
        if (!result.Ok) throw new InvalidOperationException("scripts/package.sh failed (run scripts/build-native.sh first): " + result);
    }
}
