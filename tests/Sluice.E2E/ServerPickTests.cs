using System.Text.Json;
using Sluice.Hosting.Linux;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// `sluice up --pick`: the picker lists a selector's members with protocol, "TCP only"/"TCP+UDP" and latency,
/// is answered through its prompt in tmux, and a TCP-only choice refuses a protected app's UDP with ICMP port
/// unreachable (the app sees ECONNREFUSED) while tshark on the physical link sees none of it.
/// </summary>
public sealed class ServerPickTests : IDisposable
{
    private const string Probe = "pick-udp-probe";
    private const string Control = "pick-udp-control";
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();
    private readonly TestCertificates _certificates = TestCertificates.Create();

    public ServerPickTests() => _testbed.AddHiddenServer();

    /// <summary>Sends three datagrams on a connected socket; prints "refused" at ECONNREFUSED, the echo otherwise.</summary>
    private static string UdpApp(string payload) => $$"""
        import socket
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(2)
        s.connect(("{{NamespaceTestbed.HiddenV4}}", {{NamespaceTestbed.UdpEchoPort}}))
        for _ in range(3):
            try:
                s.send(b"{{payload}}")
                print(s.recv(2048).decode())
                break
            except ConnectionRefusedError:
                print("refused")
                break
            except socket.timeout:
                print("timeout")
        """;

    private string Config() => ProxyPeers.TunConfig(
        TlsPeers.Vless("vless", _certificates) + ", " + ProxyPeers.Http("web-proxy")
            + """, {"type": "selector", "tag": "pick", "outbounds": ["vless", "web-proxy"], "default": "vless"}""",
        final: "pick", rules: """{"process_name": "udp-direct", "outbound": "direct"}""");

    [Fact]
    public async Task PickThroughThePrompt_TcpOnlyLane_RefusesUdpWithPortUnreachable_AndNothingLeavesOnTheWire()
    {
        TlsPeers.StartV2ray(_testbed, _certificates);
        ProxyPeers.StartTinyproxy(_testbed);
        var daemon = DaemonUnderTest.Start(_testbed);
        string path = daemon.WriteConfig(Config());

        // Without a terminal the bare --pick refuses at once (exit 2), before anything starts.
        var noTty = daemon.Cli("up", "-c", path, "--pick");
        Assert.True(noTty.ExitCode == 2, noTty.ToString());
        Assert.Contains("--pick NAME", noTty.Stderr);
        Assert.Equal("disconnected", daemon.State());

        string session = $"sluice-pick-{Environment.ProcessId}";
        string command = string.Join(' ', new[] { "ip", "netns", "exec", _testbed.Client, "env", $"SLUICE_SOCKET={daemon.Socket}" }
            .Concat(SluiceBinary.Command()).Concat(["up", "-c", path, "--pick"]).Select(a => "'" + a + "'")) + "; sleep 120";
        var tmux = Exec.Run(TimeSpan.FromSeconds(10), "tmux", "new-session", "-d", "-s", session, "-x", "200", "-y", "40", command);
        Assert.True(tmux.Ok, tmux.ToString());
        string screen;
        try
        {
            screen = await WaitForScreen(session, "server for this session");
            var row = screen.Split('\n').FirstOrDefault(l => l.Contains("web-proxy", StringComparison.Ordinal));
            Assert.True(row is not null, screen);
            Assert.Contains("TCP only", row);
            Assert.Matches(@"vless\s+pick\s+vless\s+TCP\+UDP\s+\d+ ms", screen);
            Assert.Matches(@"web-proxy\s+pick\s+http\s+TCP only\s+\d+ ms", screen);
            string number = row.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
            Assert.True(Exec.Run(TimeSpan.FromSeconds(10), "tmux", "send-keys", "-t", session, number, "Enter").Ok);
            screen = await WaitForScreen(session, "selected web-proxy in pick (http, TCP only");
        }
        finally
        {
            Exec.Run(TimeSpan.FromSeconds(10), "tmux", "kill-session", "-t", session);
        }
        Assert.Contains("connected", screen);

        // TCP still goes through the chosen lane.
        var tcp = _testbed.RunInClient(TimeSpan.FromSeconds(30), "curl", "-sS", "--max-time", "20", ProxyPeers.HiddenUrl());
        Assert.True(tcp.Ok, tcp + "\n" + daemon.Process.Log);

        string direct = _testbed.CopyProgram("/usr/bin/python3", "udp-direct");
        ExecResult refused, control;
        using (var capture = new WireCapture(_testbed, "pick"))
        {
            refused = _testbed.RunInClient(TimeSpan.FromSeconds(30), "python3", "-c", UdpApp(Probe));
            // Positive control: the same datagram from an app routed direct is on the wire, so the oracle can see one.
            control = _testbed.RunInClient(TimeSpan.FromSeconds(30), direct, "-c", UdpApp(Control));
            int leaked = capture.Count($"frame contains \"{Probe}\" || (udp && ip.dst == {NamespaceTestbed.HiddenV4} && !(frame contains \"{Control}\"))");
            Assert.True(leaked == 0, capture.Describe($"frame contains \"{Probe}\""));
            Assert.True(capture.Count($"frame contains \"{Control}\"") >= 1, "positive control: the direct app's datagram was not captured\n" + control);
        }
        Assert.True(refused.Ok && refused.Stdout.Trim() == "refused", refused + "\n" + daemon.Process.Log);

        var status = daemon.Cli("status");
        Assert.Contains("selected   web-proxy in pick (http, TCP only)", status.Stdout);
        Assert.Contains("UDP refused on lane web-proxy (1 flows)", status.Stdout);
        var proxies = daemon.Get("/proxies").GetProperty("proxies");
        Assert.Equal("web-proxy", proxies.GetProperty("pick").GetProperty("now").GetString());
        Assert.False(proxies.GetProperty("web-proxy").GetProperty("udp").GetBoolean());
        Assert.True(proxies.GetProperty("vless").GetProperty("udp").GetBoolean());
        Assert.True(daemon.Process.WaitFor("UDP refused on lane web-proxy", TimeSpan.FromSeconds(5)), daemon.Process.Log);

        // Picking the UDP lane by name (no terminal needed) carries the same app's UDP through VLESS.
        var byName = daemon.Cli("up", "-c", path, "--pick", "vless");
        Assert.True(byName.ExitCode == 0, byName.ToString());
        Assert.Contains("selected vless in pick (vless, TCP+UDP)", byName.Stdout);
        var carried = _testbed.RunInClient(TimeSpan.FromSeconds(30), "python3", "-c", UdpApp(Probe));
        Assert.True(carried.Stdout.Trim() == Probe, carried + "\n" + daemon.Process.Log);
        Assert.Equal(JsonValueKind.Array, daemon.Core("servers").GetProperty("data").GetProperty("choices").ValueKind);
    }

    private static async Task<string> WaitForScreen(string session, string text)
    {
        string screen = "";
        for (int i = 0; i < 150; i++)
        {
            screen = Exec.Run(TimeSpan.FromSeconds(10), "tmux", "capture-pane", "-p", "-t", session).Stdout;
            if (screen.Contains(text, StringComparison.Ordinal)) return screen;
            await Task.Delay(200);
        }
        throw new Xunit.Sdk.XunitException($"\"{text}\" never appeared on the screen:\n{screen}");
    }

    public void Dispose()
    {
        _testbed.Dispose();
        _certificates.Dispose();
    }
}
