using System.Diagnostics;
using Sluice.Hosting.Linux;
using Sluice.Testbed;
using Sluice.Platform.Linux;
using Sluice.Core.Gate;

namespace Sluice.E2E;

/// <summary>
/// The leak oracle: tshark on the client namespace's physical veth (eth0), started before the
/// probes and stopped after; packets are counted afterwards with display filters. A capture is
/// only trusted once it has seen a known packet: a marker datagram that carries Sluice's mark (so
/// neither the TUN nor the gate takes it) is sent after start-up and must show up live before the
/// probes run, and must be in the file when it is read. A capture that fails in any way throws.
/// </summary>
internal sealed class WireCapture : IDisposable
{
    public const string Marker = "sluice-capture-marker";
    private const string MarkerFilter = "frame contains \"" + Marker + "\"";

    /// <summary>A UDP datagram to the server's discard port, marked and bound to eth0.</summary>
    private const string SendMarker = """
        import socket
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, 36, 0x534c)  # SO_MARK: Sluice's own traffic, past the TUN and the gate
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
        s.sendto(b"sluice-capture-marker", ("203.0.113.10", 9))
        """;

    /// <summary>The closing marker: same path, longer payload ("sluice-capture-marker-end", Len=25).</summary>
    private const string SendEndMarker = """
        import socket
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, 36, 0x534c)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
        s.sendto(b"sluice-capture-marker-end", ("203.0.113.10", 9))
        """;

    private readonly NamespaceTestbed _testbed;
    private readonly Process _tshark;
    private readonly List<string> _stderr = [];
    private volatile bool _markerSeen;
    private volatile bool _endMarkerSeen;

    /// <param name="captureFilter">A BPF capture filter; the marker (UDP port 9) is always let in.</param>
    public WireCapture(NamespaceTestbed testbed, string name, string? captureFilter = null)
    {
        _testbed = testbed;
        File = Path.Combine(testbed.WorkDir, $"{name}-{Guid.NewGuid():N}.pcapng");
        string[] bpf = captureFilter is null ? [] : ["-f", $"({captureFilter}) or udp port 9"];
        // -P -l: print each packet's summary while writing the file, so the marker is seen live.
        _tshark = testbed.StartIn(testbed.Client, ["tshark", "-i", NamespaceTestbed.ClientInterface, .. bpf, "-w", File, "-P", "-l"]);
        _tshark.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.Add(e.Data); };
        // The live summary line of the marker: "10.200.0.2 → 203.0.113.10 UDP 63 40000 → 9 Len=21".
        _tshark.OutputDataReceived += (_, e) => {
            if (e.Data?.Contains("→ 9 Len=21", StringComparison.Ordinal) == true) _markerSeen = true;
            if (e.Data?.Contains("→ 9 Len=25", StringComparison.Ordinal) == true) _endMarkerSeen = true;
        };
        _tshark.BeginErrorReadLine();
        _tshark.BeginOutputReadLine();
        var clock = Stopwatch.StartNew();
        while (!_markerSeen)
        {
            if (_tshark.HasExited || clock.Elapsed > TimeSpan.FromSeconds(30))
                throw new InvalidOperationException($"tshark on {testbed.Client}/eth0 never saw its marker packet, so it cannot prove anything (apt-get install tshark): {Stderr}");
            var sent = testbed.RunInClient(TimeSpan.FromSeconds(20), "python3", "-c", SendMarker);
            if (!sent.Ok) throw new InvalidOperationException("the capture's marker packet could not be sent: " + sent);
            for (int i = 0; i < 5 && !_markerSeen; i++) Thread.Sleep(100);
        }
    }

    public string File { get; }

    private string Stderr
    {
        get { lock (_stderr) return string.Join('\n', _stderr); }
    }

    /// <summary>Stops the capture (SIGINT lets tshark flush the file) and waits for it.</summary>
    /// <remarks>
    /// A closing marker goes out first and must be seen live: a SIGINT right after the last probe lost the
    /// packets tshark had not yet taken from dumpcap (a 0.3 s curl's whole connection, seen in UtlsLaneTests),
    /// so without it a leak just before the stop could go uncounted.
    /// </remarks>
    public void Stop()
    {
        if (_tshark.HasExited) return;
        var clock = Stopwatch.StartNew();
        while (!_endMarkerSeen && !_tshark.HasExited)
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(30))
                throw new InvalidOperationException("tshark never showed the closing marker: what it captured last may be missing");
            var sent = _testbed.RunInClient(TimeSpan.FromSeconds(20), "python3", "-c", SendEndMarker);
            if (!sent.Ok) throw new InvalidOperationException("the capture's closing marker could not be sent: " + sent);
            for (int i = 0; i < 5 && !_endMarkerSeen; i++) Thread.Sleep(100);
        }
        Exec.Signal(_tshark, Exec.SigInt);
        if (!_tshark.WaitForExit(10_000)) throw new InvalidOperationException("tshark did not stop within 10 s");
    }

    /// <summary>Packets in the capture matching a Wireshark display filter (the marker never counts).</summary>
    public int Count(string filter)
    {
        Stop();
        if (Frames(MarkerFilter).Length == 0)
            throw new InvalidOperationException($"the capture file {File} lacks the marker packet tshark saw live: it was not written whole");
        return Frames($"({filter}) && !({MarkerFilter})").Length;
    }

    private string[] Frames(string filter)
    {
        var result = Exec.Run(TimeSpan.FromSeconds(60), "tshark", "-r", File, "-Y", filter, "-T", "fields", "-e", "frame.number");
        if (!result.Ok) throw new InvalidOperationException($"tshark -r {File} -Y \"{filter}\" failed: {result.Stderr}");
        return result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>One field of each matching packet (tshark -T fields -e), one string per packet; the capture is stopped first.</summary>
    public string[] Values(string filter, string field)
    {
        Stop();
        var result = Exec.Run(TimeSpan.FromSeconds(60), "tshark", "-r", File, "-Y", $"({filter}) && !({MarkerFilter})", "-T", "fields", "-e", field);
        if (!result.Ok) throw new InvalidOperationException($"tshark -r {File} -Y \"{filter}\" -e {field} failed: {result.Stderr}");
        return result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>A readable dump of matching packets, for assertion messages.</summary>
    public string Describe(string filter, int max = 15)
    {
        var result = Exec.Run(TimeSpan.FromSeconds(60), "tshark", "-r", File, "-Y", $"({filter}) && !({MarkerFilter})");
        return string.Join('\n', result.Stdout.Split('\n').Take(max));
    }

    public void Dispose()
    {
        try
        {
            Stop();
        }
        catch (InvalidOperationException)
        {
        }
    }
}

/// <summary>What the probes send, and the display filters that find each probe on the wire.</summary>
internal static class GateProbes
{
    public const string Marker = "gate-probe";

    /// <summary>
    /// Sends, every 200 ms until killed: a TCP SYN (connect to the line echo), a UDP datagram to the
    /// UDP echo, and an ICMP echo request (raw socket), to the server's v4 and v6 addresses.
    /// Argument "v4" limits it to IPv4.
    /// </summary>
    public const string Script = """
        import os, socket, struct, sys, time
        S4, S6 = sys.argv[1], sys.argv[2]
        families = sys.argv[3] if len(sys.argv) > 3 else "v4v6"
        def csum(b):
            if len(b) % 2: b += b"\0"
            s = sum(struct.unpack("!%dH" % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
            return ~s & 0xffff
        def icmp(host, v6, seq):
            try:
                if v6:
                    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
                    pkt = struct.pack("!BBHHH", 128, 0, 0, 0x5147, seq) + b"gate-probe"  # kernel fills the ICMPv6 checksum
                else:
                    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
                    body = struct.pack("!BBHHH", 8, 0, 0, 0x5147, seq) + b"gate-probe"
                    pkt = struct.pack("!BBHHH", 8, 0, csum(body), 0x5147, seq) + b"gate-probe"
                s.sendto(pkt, (host, 0)); s.close()
            except OSError: pass
        def tcp(host, v6):
            try:
                s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_STREAM); s.settimeout(0.15)
                s.connect((host, 9000)); s.sendall(b"gate-probe\n"); s.close()
            except OSError: pass
        def udp(host, v6):
            try:
                s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
                s.sendto(b"gate-probe", (host, 7007)); s.close()
            except OSError: pass
        print("probing", flush=True)
        seq = 0
        while True:
            seq = (seq + 1) & 0xffff
            targets = [(S4, False)] + ([(S6, True)] if "v6" in families else [])
            for host, v6 in targets:
                tcp(host, v6); udp(host, v6); icmp(host, v6, seq)
            time.sleep(0.2)
        """;

    private const string S4 = NamespaceTestbed.ServerV4;
    private const string S6 = NamespaceTestbed.ServerV6;

    /// <summary>Probe kind → filter for packets the probe itself originates (engine FIN/RST of closed relays never match).</summary>
    public static readonly (string Name, string Filter)[] Filters = For(S4, S6);

    public static (string Name, string Filter)[] For(string s4, string? s6) =>
    [
        ("TCP v4", $"ip.dst=={s4} && tcp.dstport==9000 && tcp.flags.syn==1 && tcp.flags.ack==0"),
        ("UDP v4", $"ip.dst=={s4} && udp.dstport==7007"),
        ("ICMP v4", $"ip.dst=={s4} && icmp.type==8"),
        .. (s6 is null ? Array.Empty<(string, string)>() :
        [
            ("TCP v6", $"ipv6.dst=={s6} && tcp.dstport==9000 && tcp.flags.syn==1 && tcp.flags.ack==0"),
            ("UDP v6", $"ipv6.dst=={s6} && udp.dstport==7007"),
            ("ICMPv6", $"ipv6.dst=={s6} && icmpv6.type==128"),
        ]),
    ];

    /// <summary>Every packet on the veth that is neither ND nor DHCP — what "leaves" means.</summary>
    public const string AnyButNdAndDhcp =
        "(ip || ipv6) && !(icmpv6.type >= 133 && icmpv6.type <= 137) && !(icmpv6.type == 143) && !(udp.port == 67 || udp.port == 68 || udp.port == 546 || udp.port == 547)";

    public static string Write(NamespaceTestbed testbed)
    {
        string path = Path.Combine(testbed.WorkDir, "gate-probe.py");
        File.WriteAllText(path, Script);
        return path;
    }
}

/// <summary>Gate helpers: configs with a gate section, the CLI inside the client namespace, a per-test protected cgroup.</summary>
internal static class GateRuns
{
    private static int _counter;

    /// <summary>A cgroup path of this test only (the cgroup hierarchy is host-wide, not per namespace).</summary>
    public static string NewCgroup() => $"sluice-e2e-{Environment.ProcessId}-{Interlocked.Increment(ref _counter)}/protected";

    public static string Config(string gate, string rules = "", string extraTun = "", string tunAddress = "\"172.19.0.1/30\", \"fdfe:dcba:9876::1/126\"") => $$"""
        {
          "log": {"level": "info"},
          "inbounds": [{
            "type": "tun", "tag": "tun-in", "interface_name": "sluice0",
            "address": [{{tunAddress}}],
            "auto_route": true{{extraTun}}
          }],
          "outbounds": [{"type": "direct", "tag": "direct"}, {"type": "block", "tag": "block"}],
          "route": {"rules": [{{rules}}], "final": "direct"}{{(gate.Length > 0 ? ",\n  \"gate\": " + gate : "")}}
        }
        """;

    public static string WriteConfig(NamespaceTestbed testbed, string json, string name)
    {
        string path = Path.Combine(testbed.WorkDir, name);
        File.WriteAllText(path, json);
        return path;
    }

    /// <summary>Runs `sluice ARGS` inside the client namespace.</summary>
    public static ExecResult Sluice(NamespaceTestbed testbed, params string[] args) =>
        testbed.RunInClient(TimeSpan.FromSeconds(60), [.. SluiceBinary.Command(), .. args]);

    public static bool TablePresent(NamespaceTestbed testbed) =>
        testbed.RunInClient(TimeSpan.FromSeconds(10), "nft", "list", "table", "inet", "sluice").Ok;

    /// <summary>Removes a test's cgroup (after its processes are gone).</summary>
    public static void RemoveCgroup(string path)
    {
        string? mount = ProtectedCgroup.NetClsMount();
        if (mount is null) return;
        var parts = path.Split('/');
        for (int n = parts.Length; n > 0; n--)
        {
            string dir = Path.Combine(mount, string.Join('/', parts[..n]));
            for (int attempt = 0; attempt < 20 && Directory.Exists(dir); attempt++)
            {
                try
                {
                    Directory.Delete(dir);
                }
                catch (IOException)
                {
                    Thread.Sleep(100); // processes still exiting
                }
            }
        }
    }

    /// <summary>Starts the probe app in the client namespace, held as <paramref name="how"/>: "cgroup" (sluice exec), "uid" (setpriv), or "plain".</summary>
    public static Process StartProbe(NamespaceTestbed testbed, string how, string families = "v4v6", string s4 = NamespaceTestbed.ServerV4)
    {
        string script = GateProbes.Write(testbed);
        // A non-root uid cannot use an interpreter under /root (pyenv shims): take the system one when present.
        string python = how == "uid" && File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
        string[] probe = [python, "-u", script, s4, NamespaceTestbed.ServerV6, families];
        string[] argv = how switch
        {
            "cgroup" => [.. SluiceBinary.Command(), "exec", "--lane", "protected", "--", .. probe],
            // Raw ICMP sockets need CAP_NET_RAW: the uid changes, the capability is kept as ambient.
            "uid" => ["setpriv", $"--reuid={ProtectedUid}", $"--regid={ProtectedUid}", "--clear-groups", "--inh-caps=+net_raw", "--ambient-caps=+net_raw", .. probe],
            _ => probe,
        };
        var process = testbed.StartIn(testbed.Client, argv);
        string? line = process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)).GetAwaiter().GetResult();
        if (line != "probing") throw new InvalidOperationException($"the probe app did not start ({how}): {process.StandardError.ReadToEnd()}");
        return process;
    }

    /// <summary>Creates a namespace of the test's own named after the testbed (so a stale one is cleaned with it), runs <paramref name="action"/>, deletes it.</summary>
    public static void InScratchNamespace(NamespaceTestbed testbed, Action<string> action)
    {
        string name = testbed.Client + "x";
        Exec.Check("ip", "netns", "add", name);
        try
        {
            action(name);
        }
        finally
        {
            Exec.Run(TimeSpan.FromSeconds(10), "ip", "netns", "del", name);
        }
    }

    /// <summary>Counts packets matching a filter while <paramref name="act"/> runs (capture on the client's eth0).</summary>
    public static (int Count, string Packets) CaptureWhile(NamespaceTestbed testbed, string name, string filter, Action act)
    {
        using var capture = new WireCapture(testbed, name);
        act();
        Thread.Sleep(500);
        return (capture.Count(filter), capture.Describe(filter));
    }

    /// <summary>The first stdout line of a started process (60 s at most: dotnet starts slowly on a loaded 2-core machine).</summary>
    public static string? FirstLine(Process process) =>
        process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)).GetAwaiter().GetResult();

    /// <summary>Packets the gate's drop rule for held apps has counted so far (0 while the chain is absent).</summary>
    public static long DroppedPackets(NamespaceTestbed testbed)
    {
        var list = testbed.RunInClient(TimeSpan.FromSeconds(10), "nft", "list", "chain", "inet", "sluice", "held").Stdout;
        var match = System.Text.RegularExpressions.Regex.Match(list, @"counter packets (\d+) bytes \d+ drop");
        return match.Success ? long.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
    }

    /// <summary>An otherwise unused uid for "held by uid" tests.</summary>
    public const uint ProtectedUid = 64123;
}
