using System.Diagnostics;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// The hijacked DNS's cap on queries waiting for an upstream is per owner (issue 17, found by the soak): every app
/// behind the TUN asks from the TUN's own address, so with a share per address one app flooding a silent upstream
/// took every app's slots and all DNS stopped. Two users' apps in the client namespace: one floods random names
/// that only a silent (blackholed) upstream serves; the other's dig must still be answered meanwhile.
/// </summary>
public sealed class DnsOwnerShareTests : IDisposable
{
    private static readonly TimeSpan Dig = TimeSpan.FromSeconds(15);
    private const string HijackedResolver = "203.0.113.53";
    private const string Answer = "192.0.2.77";
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();
    private readonly TestUser _flooder = TestUser.Create();
    private readonly TestUser _victim = TestUser.Create();
    private Process? _dnsmasq;

    // Random names under flood.test as fast as one socket sends them, for argv[2] seconds. Run as /usr/bin/python3:
    // another user cannot reach root's pyenv shims that PATH may name first.
    private const string FloodScript = """
        import random, socket, struct, sys, time
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); end = time.time() + float(sys.argv[2]); n = 0
        while time.time() < end:
            name = "%x.flood.test" % random.getrandbits(48)
            q = struct.pack("!HHHHHH", random.getrandbits(16), 0x0100, 1, 0, 0, 0)
            q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack("!HH", 1, 1)
            try: s.sendto(q, (sys.argv[1], 53))
            except OSError: pass
            n += 1
            if n % 100 == 0: time.sleep(0.01)
        print("flooded", n, flush=True)
        """;

    [Fact]
    public void AUserFloodingASilentUpstream_DoesNotStopAnotherUsersDnsBehindTheSameTun()
    {
        // The answering upstream: dnsmasq on the router's LAN address. The silent one: a blackholed address.
        _dnsmasq = _testbed.StartIn(_testbed.Router, "dnsmasq", "--keep-in-foreground", "--user=root", "--no-resolv", "--no-hosts", "--bind-interfaces",
            $"--listen-address={NamespaceTestbed.RouterV4}", $"--address=/answered.test/{Answer}", $"--pid-file={Path.Combine(_testbed.WorkDir, "dnsmasq.pid")}");
        _testbed.RunInRouter(TimeSpan.FromSeconds(10), "ip", "route", "add", "blackhole", "198.51.100.0/24");
        string dns = $$"""
            {"servers": [{"type": "udp", "tag": "lan", "server": "{{NamespaceTestbed.RouterV4}}"},
                         {"type": "udp", "tag": "silent", "server": "198.51.100.53"}],
             "rules": [{"domain_suffix": ["flood.test"], "server": "silent"}], "final": "lan"}
            """;
        string config = EngineConfigs.Tun("""{"port": 53, "action": "hijack-dns"}""").Replace("\"route\":", $"\"dns\": {dns},\n  \"route\":", StringComparison.Ordinal);
        var engine = _testbed.StartEngine(config).WaitStarted();
        var before = VictimDig("before.answered.test");
        Assert.True(before.Ok && before.Stdout.Trim() == Answer, $"the victim's DNS does not work even without a flood: {before}");

        var flood = _testbed.StartIn(_testbed.Client, _flooder.As("/usr/bin/python3", "-c", FloodScript, HijackedResolver, "25"));
        // Positive control: the flooder really reached its cap (the drop counter moved and the warning names it).
        Assert.True(engine.WaitFor("filled its own share", TimeSpan.FromSeconds(15)), $"the flood never reached the pending-query cap: it proves nothing\n{Tail(engine)}");

        // While the flooder sits at its cap (its queries wait for the silent upstream's 5 s timeout and are
        // replaced as they time out), the other user's queries from the same TUN address are answered.
        var answers = new List<string>();
        for (int i = 0; i < 5; i++)
        {
            var dig = VictimDig($"v{i}.answered.test");
            answers.Add(dig.Ok ? dig.Stdout.Trim() : dig.ToString());
        }
        Assert.False(flood.HasExited, "the flood ended before the victim's queries: they did not run against a full share");
        Assert.True(answers.All(a => a == Answer), $"the victim's queries during the flood got: {string.Join(" | ", answers)}\n{Tail(engine)}");
        Assert.Contains($"uid {_flooder.Uid} filled its own share", engine.Log);
        Assert.DoesNotContain($"uid {_victim.Uid} filled", engine.Log);
        flood.Kill();
        flood.WaitForExit();
    }

    private ExecResult VictimDig(string name) =>
        _testbed.RunInClient(Dig, _victim.As("dig", "+short", "+time=3", "+tries=1", $"@{HijackedResolver}", name));

    private static string Tail(EngineProcess engine) => engine.Log[^Math.Min(engine.Log.Length, 3000)..];

    public void Dispose()
    {
        if (_dnsmasq is { HasExited: false } dnsmasq)
        {
            dnsmasq.Kill();
            dnsmasq.WaitForExit();
        }
        _testbed.Dispose();
        _victim.Dispose();
        _flooder.Dispose();
    }
}
