using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// sing-box's keep-alive dial fields on an outbound reach the socket the engine dials for an app's connection:
/// `ss -tino` in the client namespace shows the kernel's keep-alive timer on it (or none when disabled).
/// </summary>
public sealed class TcpKeepAliveTests : IDisposable
{
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();

    [Theory]
    [InlineData("\"tcp_keep_alive\": \"7s\", \"tcp_keep_alive_interval\": \"3s\"", true)]
    [InlineData("\"disable_tcp_keep_alive\": true", false)]
    public void DirectOutbound_DialsWithTheConfiguredKeepAlive(string fields, bool probes)
    {
        string config = $$"""
            {
              "log": {"level": "info"},
              "inbounds": [{"type": "tun", "tag": "tun-in", "address": ["172.19.0.1/30"], "auto_route": true}],
              "outbounds": [{"type": "direct", "tag": "direct", {{fields}}}],
              "route": {"final": "direct"}
            }
            """;
        var engine = _testbed.StartEngine(config).WaitStarted();
        string server = $"{NamespaceTestbed.ServerV4}:{NamespaceTestbed.LineEchoPort}";

        // An app holds a connection through the TUN, silent (the line-echo server waits for a line, so it stays
        // established); meanwhile list the engine's own socket to the server (its source is the client's address, the
        // app's is the TUN's) with its timers.
        string hold = $"import socket,time; s=socket.create_connection(('{NamespaceTestbed.ServerV4}',{NamespaceTestbed.LineEchoPort})); time.sleep(4)";
        var result = _testbed.RunInClient(TimeSpan.FromSeconds(30), "sh", "-c",
            $"python3 -c \"{hold}\" & sleep 2; ss -tino; wait");

        Assert.True(result.Ok, result + "\n" + engine.Log);
        string engineSocket = result.Stdout.Split('\n').SingleOrDefault(l => l.Contains($"{NamespaceTestbed.ClientV4}:", StringComparison.Ordinal)
            && l.Contains(server, StringComparison.Ordinal)) ?? throw new Xunit.Sdk.XunitException($"no engine socket to {server} in:\n{result.Stdout}");
        if (probes) Assert.Matches(@"timer:\(keepalive,[0-9.]+(ms|sec),0\)", engineSocket);
        else Assert.DoesNotContain("keepalive", result.Stdout);
    }

    /// <summary>
    /// sing-box's listen fields on a mixed inbound reach the connections it accepts: an app holds a CONNECT through the
    /// proxy port, silent, and `ss -tino` shows the kernel's keep-alive timer on the engine's side of it (or none).
    /// </summary>
    [Theory]
    [InlineData("\"tcp_keep_alive\": \"7s\", \"tcp_keep_alive_interval\": \"3s\"", true)]
    [InlineData("", true)] // sing-box's default: 5 min, then every 75 s
    [InlineData("\"disable_tcp_keep_alive\": true", false)]
    public void MixedInbound_AcceptsWithTheConfiguredKeepAlive(string fields, bool probes)
    {
        const int port = 2080;
        string config = $$"""
            {
              "log": {"level": "info"},
              "inbounds": [{"type": "tun", "tag": "tun-in", "address": ["172.19.0.1/30"], "auto_route": true},
                           {"type": "mixed", "tag": "mixed-in", "listen": "127.0.0.1", "listen_port": {{port}}{{(fields.Length > 0 ? ", " + fields : "")}}}],
              "outbounds": [{"type": "direct", "tag": "direct"}],
              "route": {"final": "direct"}
            }
            """;
        var engine = _testbed.StartEngine(config).WaitStarted();
        string target = $"{NamespaceTestbed.ServerV4}:{NamespaceTestbed.LineEchoPort}";
        string hold = $"import socket,time; s=socket.create_connection(('127.0.0.1',{port})); " +
            $"s.sendall(b'CONNECT {target} HTTP/1.1\\r\\nHost: {target}\\r\\n\\r\\n'); print(s.recv(100)); time.sleep(4)";
        var result = _testbed.RunInClient(TimeSpan.FromSeconds(30), "sh", "-c", $"python3 -c \"{hold}\" & sleep 2; ss -tino; wait");

        Assert.True(result.Ok, result + "\n" + engine.Log);
        Assert.Contains("200", result.Stdout);
        // The accepted connection: its local address is the proxy port (the app's own socket has it as the peer).
        var lines = result.Stdout.Split('\n');
        int at = Array.FindIndex(lines, l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries) is [_, _, _, var local, ..] && local == $"127.0.0.1:{port}");
        Assert.True(at >= 0, $"no accepted connection on 127.0.0.1:{port} in:\n{result.Stdout}");
        // ss prints the timer on the socket's line, or its details on the next (indented) one.
        string accepted = lines[at] + (at + 1 < lines.Length && lines[at + 1].StartsWith('\t') ? lines[at + 1] : "");
        if (probes) Assert.Matches(@"timer:\(keepalive,[0-9.]+(ms|sec|min)([0-9.]+sec)?,0\)", accepted);
        else Assert.DoesNotContain("keepalive", accepted);
    }

    public void Dispose() => _testbed.Dispose();
}
