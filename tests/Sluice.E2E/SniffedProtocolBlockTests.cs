
namespace Sluice.E2E;

/// <summary>
/// `protocol` rules on sniffed first payloads of real clients: Debian's stun-client (`stun`) and a BitTorrent
/// peer handshake (BEP 3, the bytes transmission-cli opens with) sent by a real socket are rejected, while a
/// plain datagram and a plain TCP line to the same ports pass. A recorder in the router namespace writes down
/// every payload it receives, so "blocked" means the server saw nothing of them.
/// </summary>
public sealed class SniffedProtocolBlockTests : IDisposable
{
    private const int StunPort = 3478;
    private const int PeerPort = 6881;
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();

    private const string Recorder = """
        import socket, sys, threading
        addr, udp_port, tcp_port, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
        lock = threading.Lock()
        def note(kind, data):
            with lock, open(out, "a") as f:
                f.write(kind + " " + data.hex() + "\n")
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((addr, udp_port))
        t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind((addr, tcp_port)); t.listen(8)
        def udp():
            while True:
                d, _ = u.recvfrom(65535); note("udp", d)
        def conn(c):
            try:
                d = c.recv(4096)
                if d: note("tcp", d)
            finally:
                c.close()
        def tcp():
            while True:
                c, _ = t.accept(); threading.Thread(target=conn, args=(c,), daemon=True).start()
        threading.Thread(target=udp, daemon=True).start()
        print("ready", flush=True)
        tcp()
        """;

    private const string Sender = """
        import socket, sys
        kind, host, port, payload = sys.argv[1], sys.argv[2], int(sys.argv[3]), bytes.fromhex(sys.argv[4])
        if kind == "udp":
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(payload, (host, port))
        else:
            s = socket.create_connection((host, port), timeout=5); s.sendall(payload)
            s.settimeout(2)
            try:
                s.recv(1)
            except Exception:
                pass
        """;

    [Fact]
    public async Task StunClient_AndBitTorrentHandshake_AreBlockedByProtocolRules_OtherTrafficPasses()
    {
        string recorded = Path.Combine(_testbed.WorkDir, "recorded.txt");
        File.WriteAllText(recorded, "");
        string recorder = Path.Combine(_testbed.WorkDir, "recorder.py"), sender = Path.Combine(_testbed.WorkDir, "sender.py");
        File.WriteAllText(recorder, Recorder);
        File.WriteAllText(sender, Sender);
        var server = _testbed.StartIn(_testbed.Router, "python3", recorder, NamespaceTestbed.ServerV4, StunPort.ToString(), PeerPort.ToString(), recorded);
        Assert.Equal("ready", await server.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(20)));

        string rules = """
            {"action": "sniff"},
            {"protocol": ["bittorrent", "stun"], "action": "reject"}
            """;
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig("""{"type": "direct", "tag": "direct-2"}""", final: "direct", rules)).WaitStarted();

        // The real STUN client (RFC 3489 Binding Request, no magic cookie) gets no answer: its request never left.
        _testbed.RunInClient(TimeSpan.FromSeconds(30), "timeout", "8", "stun", NamespaceTestbed.ServerV4);
        // BEP 3 handshake: pstrlen 19, "BitTorrent protocol", reserved, info_hash, peer_id (as transmission 3.00 sends).
        string handshake = "13" + Convert.ToHexStringLower("BitTorrent protocol"u8) + "0000000000100005" + new string('a', 40) + Convert.ToHexStringLower("-TR3000-k1x2c3v4b5n6"u8);
        _testbed.RunInClient(TimeSpan.FromSeconds(30), "python3", sender, "tcp", NamespaceTestbed.ServerV4, PeerPort.ToString(), handshake);
        // Controls on the same ports: neither is a blocked protocol.
        var plainUdp = _testbed.RunInClient(TimeSpan.FromSeconds(30), "python3", sender, "udp", NamespaceTestbed.ServerV4, StunPort.ToString(), Convert.ToHexStringLower("plain datagram"u8));
        var plainTcp = _testbed.RunInClient(TimeSpan.FromSeconds(30), "python3", sender, "tcp", NamespaceTestbed.ServerV4, PeerPort.ToString(), Convert.ToHexStringLower("plain line\n"u8));
        Assert.True(plainUdp.Ok && plainTcp.Ok, plainUdp + "\n" + plainTcp);

        string seen = "";
        for (int i = 0; i < 50 && !(seen.Contains("udp " + Convert.ToHexStringLower("plain datagram"u8)) && seen.Contains("tcp " + Convert.ToHexStringLower("plain line\n"u8))); i++)
        {
            await Task.Delay(200);
            seen = await File.ReadAllTextAsync(recorded);
        }
        Assert.Contains("udp " + Convert.ToHexStringLower("plain datagram"u8), seen);
        Assert.Contains("tcp " + Convert.ToHexStringLower("plain line\n"u8), seen);
        var lines = seen.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 2, seen + "\n" + engine.Log);
        Assert.DoesNotContain(lines, l => l.StartsWith("udp 0001", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains("426974546f7272656e74", StringComparison.Ordinal));
        // The engine saw both and refused them by the protocol rule, rule 1 (so the STUN client did send).
        var log = engine.Log.Split('\n');
        foreach (int port in new[] { StunPort, PeerPort })
            Assert.True(log.Any(l => l.Contains($"{NamespaceTestbed.ServerV4}:{port}", StringComparison.Ordinal) && l.Contains("=> reject (rule 1)", StringComparison.Ordinal)), engine.Log);
    }

    public void Dispose() => _testbed.Dispose();
}
