using System.Diagnostics;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// The mixed inbound when the Shadowsocks server dies under a connection: the app behind the SOCKS5 or HTTP
/// port must see its connection end within seconds (reset or end of stream), mid-transfer and when idle,
/// never hang. The transfer is a trickle (1 KiB every 50 ms), so no buffered backlog delays the end: what
/// is measured is how fast the close crosses Sluice.
/// </summary>
public sealed class MixedInboundUpstreamCloseTests : IDisposable
{
    private const int MixedPort = 2080;
    private const int TricklePort = 9100;
    private const string Method = "chacha20-ietf-poly1305";
    private static readonly TimeSpan Closed = TimeSpan.FromSeconds(5);
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();

    public MixedInboundUpstreamCloseTests() => _testbed.AddHiddenServer();

    private static string Config() => $$"""
        {
          "log": {"level": "info"},
          "inbounds": [{"type": "mixed", "tag": "mixed-in", "listen": "127.0.0.1", "listen_port": {{MixedPort}}}],
          "outbounds": [{{ProxyPeers.Shadowsocks("ss", Method)}}, {"type": "direct", "tag": "direct"}],
          "route": {"final": "ss"}
        }
        """;

    /// <summary>A server that, after one request byte, sends 1 KiB every 50 ms until the peer goes.</summary>
    private const string Trickle = """
        import socket, sys, threading, time
        def serve(c):
            try:
                c.recv(1)
                while True:
                    c.sendall(b"t" * 1024); time.sleep(0.05)
            except OSError: pass
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(16)
        while True: threading.Thread(target=serve, args=(s.accept()[0],), daemon=True).start()
        """;

    /// <summary>
    /// The app: opens a tunnel through the mixed port (socks or http CONNECT), sends REQUEST, reads until it saw
    /// EXPECT, prints "ready", then reads on and prints how the connection ended: eof or the error's name.
    /// </summary>
    private static string App(string scheme, int port, string request, string expect) => $$"""
        import socket, struct
        s = socket.create_connection(("127.0.0.1", {{MixedPort}}), timeout=60)
        if "{{scheme}}" == "socks":
            s.sendall(b"\x05\x01\x00"); assert s.recv(2) == b"\x05\x00"
            s.sendall(b"\x05\x01\x00\x01" + socket.inet_aton("{{NamespaceTestbed.HiddenV4}}") + struct.pack(">H", {{port}}))
            reply = b""
            while len(reply) < 10: reply += s.recv(10 - len(reply))
            assert reply[1] == 0, reply
        else:
            s.sendall(b"CONNECT {{NamespaceTestbed.HiddenV4}}:{{port}} HTTP/1.1\r\nHost: x\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head: head += s.recv(1)
            assert b" 200" in head.split(b"\r\n")[0], head
        s.sendall({{request}})
        seen = b""
        while {{expect}} not in seen: seen += s.recv(4096)
        print("ready", flush=True)
        try:
            while True:
                if s.recv(65536) == b"":
                    print("eof", flush=True); break
        except (ConnectionResetError, socket.timeout) as e:
            print(type(e).__name__, flush=True)
        """;

    [Theory]
    [InlineData("socks")]
    [InlineData("http")]
    public async Task ShadowsocksServerKilled_MidTransfer_ClientSeesTheConnectionEnd_WithinSeconds(string scheme)
    {
        _testbed.StartIn(_testbed.Router, "python3", "-c", Trickle, TricklePort.ToString());
        var server = ProxyPeers.StartShadowsocks(_testbed, Method);
        var engine = _testbed.StartEngine(Config()).WaitStarted();
        ProxyPeers.WaitListening(_testbed, TricklePort);

        var (how, elapsed, log) = await KillServerUnder(App(scheme, TricklePort, "b\"g\"", "b\"tttt\""), server);

        Assert.True(how is "eof" or "ConnectionResetError", how + "\n" + log + "\n" + engine.Log);
        Assert.True(elapsed < Closed, $"the app saw {how} {elapsed.TotalSeconds:0.0} s after the server died\n{engine.Log}");
    }

    [Theory]
    [InlineData("socks")]
    [InlineData("http")]
    public async Task ShadowsocksServerKilled_WhileIdle_ClientSeesTheConnectionEnd_WithinSeconds(string scheme)
    {
        var server = ProxyPeers.StartShadowsocks(_testbed, Method);
        var engine = _testbed.StartEngine(Config()).WaitStarted();

        // One request on a kept-alive HTTP connection, then silence.
        var (how, elapsed, log) = await KillServerUnder(App(scheme, NamespaceTestbed.HttpPort,
            "b\"GET /whoami HTTP/1.1\\r\\nHost: x\\r\\nConnection: keep-alive\\r\\n\\r\\n\"", $"b\"{NamespaceTestbed.HiddenV4}\""), server);

        Assert.True(how is "eof" or "ConnectionResetError", how + "\n" + log + "\n" + engine.Log);
        Assert.True(elapsed < Closed, $"the app saw {how} {elapsed.TotalSeconds:0.0} s after the server died\n{engine.Log}");
    }

    /// <summary>Runs the app until it is ready, SIGKILLs ss-server, and returns how and how fast the app saw the end.</summary>
    private async Task<(string How, TimeSpan Elapsed, string Log)> KillServerUnder(string app, Process server)
    {
        var process = _testbed.StartIn(_testbed.Client, "python3", "-u", "-c", app);
        var lines = new List<string>();
        var ready = new TaskCompletionSource();
        var ended = new TaskCompletionSource<string>();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (lines) lines.Add(e.Data);
            if (e.Data == "ready") ready.TrySetResult();
            else ended.TrySetResult(e.Data);
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (lines) lines.Add(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        string Log()
        {
            lock (lines) return string.Join('\n', lines);
        }
        if (await Task.WhenAny(ready.Task, Task.Delay(TimeSpan.FromSeconds(30))) != ready.Task)
            throw new Xunit.Sdk.XunitException("the app never got through: " + Log());
        await Task.Delay(1000);

        Exec.Signal(server, Exec.SigKill);
        var killedAt = Stopwatch.StartNew();
        string how = await Task.WhenAny(ended.Task, Task.Delay(TimeSpan.FromSeconds(60))) == ended.Task ? await ended.Task : "still open after 60 s";
        var elapsed = killedAt.Elapsed;
        Exec.Kill(process);
        return (how, elapsed, Log());
    }

    public void Dispose() => _testbed.Dispose();
}
