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

    public void Dispose() => _testbed.Dispose();
}
