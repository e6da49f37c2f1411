using System.Diagnostics;
using Sluice.Hosting.Linux;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// `nft flush ruleset` (what Debian's nftables.service starts with) while the engine runs: the engine's
/// gate watch loads the gate again within a second, tshark on eth0 sees nothing of the protected app, and
/// the restored gate holds the app's attempts to bypass the tunnel (bound to eth0) again.
/// </summary>
public sealed class GateFlushTests : IDisposable
{
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();
    private readonly string _cgroup = GateRuns.NewCgroup();

    private string BypassFilter => $"ip.dst=={NamespaceTestbed.ServerV4} && tcp.dstport==9000 && tcp.flags.syn==1 && tcp.flags.ack==0";

    private Process StartBypass(bool protectedApp)
    {
        string[] loop = ["sh", "-c", $"echo started; while :; do curl -s --interface {NamespaceTestbed.ClientInterface} --max-time 0.3 http://{NamespaceTestbed.ServerV4}:9000/ >/dev/null; sleep 0.05; done"];
        var process = _testbed.StartIn(_testbed.Client, protectedApp ? [.. SluiceBinary.Command(), "exec", "--lane", "protected", "--", .. loop] : loop);
        Assert.Equal("started", GateRuns.FirstLine(process));
        return process;
    }

    [Fact]
    public void FlushedRuleset_IsLoadedAgainWithinASecond_AndTheProtectedAppNeverLeaves()
    {
        // The protected app's own flows are blocked by the rules, so anything of it on eth0 is a leak.
        string block = $$"""{"ip_cidr": ["{{NamespaceTestbed.ServerV4}}/32", "{{NamespaceTestbed.ServerV6}}/128"], "outbound": "block"}""";
        var engine = _testbed.StartEngine(GateRuns.Config($$"""{"mode": "protected", "cgroup": "{{_cgroup}}"}""", block)).WaitStarted();
        Assert.True(GateRuns.TablePresent(_testbed));
        var probe = GateRuns.StartProbe(_testbed, "cgroup");
        Thread.Sleep(1000);

        TimeSpan back = TimeSpan.MaxValue;
        var flushed = GateRuns.CaptureWhile(_testbed, "flush", "(" + string.Join(" || ", GateProbes.Filters.Select(f => "(" + f.Filter + ")")) + ")", () =>
        {
            var flush = _testbed.RunInClient(TimeSpan.FromSeconds(10), "nft", "flush", "ruleset");
            Assert.True(flush.Ok, flush.ToString());
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(5))
            {
                if (GateRuns.TablePresent(_testbed))
                {
                    back = clock.Elapsed;
                    break;
                }
                Thread.Sleep(20);
            }
            Thread.Sleep(2000);
        });
        Assert.True(back < TimeSpan.FromSeconds(1), $"the gate was not back within 1 s after `nft flush ruleset` ({back.TotalMilliseconds:F0} ms)\n{engine.Log}");
        Assert.True(flushed.Count == 0, $"{flushed.Count} packet(s) of the protected app left on eth0 around the flush:\n{flushed.Packets}");
        Assert.True(engine.WaitFor("loaded it again", TimeSpan.FromSeconds(2)), engine.Log);

        // The restored gate holds a bypass of the tunnel; the same bypass from an unheld process is seen.
        var control = GateRuns.CaptureWhile(_testbed, "bypass-control", BypassFilter, () =>
        {
            var plain = StartBypass(protectedApp: false);
            Thread.Sleep(1500);
            Exec.Kill(plain);
        });
        Assert.True(control.Count > 0, "positive control: an unheld curl --interface eth0 was not seen");
        var held = GateRuns.CaptureWhile(_testbed, "bypass-held", BypassFilter, () =>
        {
            var bypass = StartBypass(protectedApp: true);
            Thread.Sleep(2000);
            Exec.Kill(bypass);
        });
        Assert.True(held.Count == 0, $"{held.Count} SYN(s) of the protected app bound to eth0 left after the restore:\n{held.Packets}");
        Exec.Kill(probe);
    }

    [Fact]
    public void GateDisable_WhileTheEngineRuns_IsNotUndoneByTheWatch()
    {
        var engine = _testbed.StartEngine(GateRuns.Config($$"""{"mode": "protected", "cgroup": "{{_cgroup}}"}""")).WaitStarted();
        Assert.True(GateRuns.TablePresent(_testbed));
        var open = GateRuns.Sluice(_testbed, "gate", "disable", "--yes", "--root", Path.Combine(_testbed.WorkDir, "root"));
        Assert.True(open.Ok, open.ToString());
        Thread.Sleep(1500);
        Assert.False(GateRuns.TablePresent(_testbed), "the engine loaded the gate again after `gate disable`:\n" + engine.Log);
    }

    public void Dispose()
    {
        _testbed.Dispose();
        GateRuns.RemoveCgroup(_cgroup);
    }
}
