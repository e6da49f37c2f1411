using System.Diagnostics;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// Upgrading the package does not open a leak window: with the gate enabled and a protected app probing
/// (TCP, UDP, ICMP over IPv4 and IPv6), `dpkg -i` of a newer build replaces the binary and the daemon is
/// restarted on it (what postinst's `systemctl restart` does; systemd is not PID 1 here, so the test does it
/// the same way: SIGTERM, then the unit's command again). tshark on the client's eth0 sees none of the app's
/// packets, and the gate's table is there at every 50 ms sample. Positive control afterwards: with the
/// engine down and the gate opened, the same probes are seen on eth0.
/// </summary>
public sealed class PackageUpgradeLeakTests : IDisposable
{
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();
    private readonly string _cgroup = GateRuns.NewCgroup();
    private readonly string _work = Directory.CreateTempSubdirectory("sluice-pkg-").FullName;

    [Fact]
    public void Upgrade_ReplacesBinaryAndRestartsDaemon_WhileProtectedAppSendsNothingOnTheWire()
    {
        string deb = PackageBuild.Deb();
        string newer = PackageBuild.Version(deb) + "+upgrade1";
        File.Copy(deb, Path.Combine(_work, "old.deb"));
        PackageBuild.Build(newer, _work);
        File.Move(Directory.GetFiles(_work, $"sluice_{newer}_*.deb").Single(), Path.Combine(_work, "new.deb"));
        // Everything the app sends is refused while the engine runs, and held by the gate while it does not:
        // any probe packet on eth0 is a leak.
        string config = GateRuns.Config($$"""{"mode": "protected", "uid": [{{GateRuns.ProtectedUid}}], "cgroup": "{{_cgroup}}"}""",
            rules: """{"ip_cidr": ["0.0.0.0/0", "::/0"], "action": "reject"}""");
        File.WriteAllText(Path.Combine(_work, "gate.json"), config);

        using var root = ThrowawayRoot.Create(_work);
        string client = _testbed.Client;
        Assert.True(root.Run($"dpkg -i {ThrowawayRoot.PackagesInside}/old.deb && cp {ThrowawayRoot.PackagesInside}/gate.json /etc/sluice/config.json").Ok);
        string unit = root.Run("cat /lib/systemd/system/sluice.service").Stdout;
        string command = "env " + System.Text.RegularExpressions.Regex.Match(unit, "(?m)^Environment=(.*)$").Groups[1].Value + " "
            + System.Text.RegularExpressions.Regex.Match(unit, "(?m)^ExecStart=(.*)$").Groups[1].Value;
        var daemon = root.Start(command, client);
        Assert.True(daemon.WaitFor("daemon ready", TimeSpan.FromSeconds(60)), daemon.Log);
        var up = root.Run("/usr/bin/sluice up", client);
        Assert.True(up.Ok, "up: " + up + "\n" + daemon.Log);
        Assert.True(GateRuns.TablePresent(_testbed), "the daemon did not load the config's gate");

        var probe = GateRuns.StartProbe(_testbed, "uid");
        try
        {
            Thread.Sleep(1000);
            double startedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
            using var capture = new WireCapture(_testbed, "upgrade");
            int samples = 0, missing = 0;
            using var stop = new CancellationTokenSource();
            var sampler = new Thread(() =>
            {
                var clock = Stopwatch.StartNew();
                while (!stop.IsCancellationRequested)
                {
                    if (!GateRuns.TablePresent(_testbed)) missing++;
                    samples++;
                    long next = samples * 50L;
                    long wait = next - clock.ElapsedMilliseconds;
                    if (wait > 0) Thread.Sleep((int)wait);
                }
            });
            sampler.Start();

            var upgrade = root.Run($"dpkg -i --force-confold {ThrowawayRoot.PackagesInside}/new.deb", client);
            Assert.True(upgrade.Ok, "upgrade: " + upgrade);
            daemon.Signal(Exec.SigTerm);
            Assert.True(daemon.WaitForExit(TimeSpan.FromSeconds(20)), "the old daemon did not stop");
            var restarted = root.Start(command, client);
            Assert.True(restarted.WaitFor("daemon ready", TimeSpan.FromSeconds(60)), restarted.Log);
            // It brings back what was up.
            var status = Stopwatch.StartNew();
            while (root.Run("/usr/bin/sluice status", client).ExitCode != 0 && status.Elapsed < TimeSpan.FromSeconds(30)) Thread.Sleep(300);
            Assert.Equal(0, root.Run("/usr/bin/sluice status", client).ExitCode);
            Thread.Sleep(2000);
            stop.Cancel();
            sampler.Join(TimeSpan.FromSeconds(15));
            string after = $"frame.time_epoch >= {startedAt.ToString("F3", System.Globalization.CultureInfo.InvariantCulture)}";
            var counts = GateProbes.Filters.Select(f => (f.Name, Count: capture.Count($"({f.Filter}) && {after}"))).ToList();
            string leaked = capture.Describe(string.Join(" || ", GateProbes.Filters.Select(f => "(" + f.Filter + ")")));
            foreach (var (name, count) in counts)
                Assert.True(count == 0, $"{count} {name} probe packet(s) of the protected app on eth0 during the upgrade:\n{leaked}\n{restarted.Log}");
            Assert.True(missing == 0, $"table inet sluice was missing at {missing} of {samples} samples during the upgrade");
            Assert.True(samples > 40, $"only {samples} samples of the gate's table");
            Assert.Equal(PackageBuild.Version(Path.Combine(_work, "new.deb")), root.Run("dpkg-query -W -f '${Version}' sluice").Stdout);

            // Positive control: engine down, gate opened: the same probes leave on eth0.
            Assert.True(root.Run("/usr/bin/sluice down", client).Ok);
            var open = root.Run("/usr/bin/sluice gate disable --yes", client);
            Assert.True(open.Ok, open.ToString());
            using var control = new WireCapture(_testbed, "upgrade-control");
            Thread.Sleep(3000);
            foreach (var (name, filter) in GateProbes.Filters)
                Assert.True(control.Count(filter) > 0, $"positive control: no {name} probe on eth0 with the gate open, so the oracle proves nothing");
        }
        finally
        {
            Exec.Kill(probe);
            probe.WaitForExit(5000);
        }
    }

    public void Dispose()
    {
        _testbed.Dispose();
        GateRuns.RemoveCgroup(_cgroup);
        Directory.Delete(_work, recursive: true);
    }
}
