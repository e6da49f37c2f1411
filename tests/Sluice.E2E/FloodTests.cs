using System.Globalization;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// Memory under floods (docs/config.md#limits): 100,000 distinct UDP flows to a silent destination (each
/// would be a live session for its 60 s idle timeout) and a flood of random names to the hijacked DNS with
/// a silent upstream (each would wait for it). The engine's RSS stays under <see cref="RssBoundMb"/>, and an
/// app's transfer through the engine still completes during the flood.
/// </summary>
public sealed class FloodTests(Xunit.Abstractions.ITestOutputHelper output) : IDisposable
{
    /// <summary>The stated bound: the engine's own ~150 MB, 2048 sessions × 64 KiB, 512 waiting queries × (their answer room + their exchange's 64 KiB), and slack.</summary>
    private const int RssBoundMb = 600;

    private const string Silent4 = "198.51.100.7";
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();

    private const string FloodScript = """
        import random, socket, struct, sys, time
        silent, flows, names = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sent = 0
        for n in range(flows):
            try: s.sendto(b"flood", (silent, 1024 + n % 60000 + (n // 60000)))
            except OSError: pass
            sent += 1
            if n % 2000 == 0: time.sleep(0.01)
        d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for n in range(names):
            name = "".join(random.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(16)) + ".flood.test"
            q = struct.pack("!HHHHHH", random.randint(0, 65535), 0x0100, 1, 0, 0, 0)
            q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack("!HH", 1, 1)
            try: d.sendto(q, ("203.0.113.53", 53))
            except OSError: pass
            if n % 500 == 0: time.sleep(0.01)
        print("flooded", sent, names, flush=True)
        """;

    private long RssMb(EngineProcess engine)
    {
        foreach (string line in File.ReadLines($"/proc/{engine.Process.Id}/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
        return -1;
    }

    [Fact]
    public void UdpAndDnsFloods_KeepTheEngineUnderItsMemoryBound_AndATransferStillCompletes()
    {
        // Silent: the router drops what goes to this prefix and to the "upstream" DNS, without an ICMP error.
        _testbed.RunInRouter(TimeSpan.FromSeconds(10), "ip", "route", "add", "blackhole", "198.51.100.0/24");
        string dns = """{"servers": [{"type": "udp", "tag": "silent", "server": "198.51.100.53"}], "final": "silent"}""";
        string config = EngineConfigs.Tun("""{"port": 53, "action": "hijack-dns"}""").Replace("\"route\":", $"\"dns\": {dns},\n  \"route\":", StringComparison.Ordinal);
        var engine = _testbed.StartEngine(config).WaitStarted();
        long before = RssMb(engine);

        string script = Path.Combine(_testbed.WorkDir, "flood.py");
        File.WriteAllText(script, FloodScript);
        var flood = _testbed.StartIn(_testbed.Client, "python3", script, Silent4, "100000", "20000");
        long peak = before;
        bool transferred = false;
        string transfer = "";
        while (!flood.HasExited)
        {
            peak = Math.Max(peak, RssMb(engine));
            if (!transferred)
            {
                var curl = _testbed.RunInClient(TimeSpan.FromSeconds(30), "curl", "-sS", "--max-time", "20", EngineConfigs.ServerUrl());
                transferred = curl.Ok && curl.Stdout.Trim() == NamespaceTestbed.ClientV4;
                transfer = curl.ToString();
            }
            Thread.Sleep(250);
        }
        string done = flood.StandardOutput.ReadToEnd();
        Assert.Contains("flooded 100000 20000", done);
        for (int i = 0; i < 8; i++)
        {
            peak = Math.Max(peak, RssMb(engine));
            Thread.Sleep(250);
        }
        // The app's transfer completed while the flood ran (not only once it was over), and still does after it.
        Assert.True(transferred, $"no transfer completed during the flood: {transfer}\n{engine.Log[^Math.Min(engine.Log.Length, 3000)..]}");
        var after = _testbed.RunInClient(TimeSpan.FromSeconds(30), "curl", "-sS", "--max-time", "20", EngineConfigs.ServerUrl());
        Assert.True(after.Ok && after.Stdout.Trim() == NamespaceTestbed.ClientV4, $"no transfer after the flood: {after}");
        Assert.True(peak < RssBoundMb, $"the engine's RSS reached {peak} MB (from {before} MB), over the stated bound of {RssBoundMb} MB");
        output.WriteLine($"engine RSS: {before} MB before the flood, {peak} MB at its peak (bound {RssBoundMb} MB)");
        // 100,000 per-flow log lines come first: the warning may take a while to reach the pipe.
        Assert.True(engine.WaitFor("UDP sessions at the limit", TimeSpan.FromSeconds(90)), "the session cap never engaged: the flood proves nothing");
        Assert.True(engine.WaitFor("DNS queries waiting for an upstream are at the limit", TimeSpan.FromSeconds(30)), "the pending-query cap never engaged: the DNS flood proves nothing");
    }

    public void Dispose() => _testbed.Dispose();
}
