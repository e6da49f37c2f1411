using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// route.default_interface: the engine's sockets leave by the named device, and an outbound's own bind_interface wins.
/// The named device here leads nowhere, so a flow that used it cannot arrive.
/// </summary>
public sealed class DefaultInterfaceTests : IDisposable
{
    private static readonly TimeSpan Curl = TimeSpan.FromSeconds(40);
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();

    [Fact]
    public void DefaultInterface_CarriesFlowsWhoseOutboundBindsNone_AndBindInterfaceOverridesIt()
    {
        // A veth pair with both ends in the client: what leaves dead0 arrives at dead1 and goes nowhere (no address,
        // no forwarding). IPv6 off on both, so nothing but the engine's own attempts is ever sent out of dead0.
        Exec.Check("ip", "-n", _testbed.Client, "link", "add", "dead0", "type", "veth", "peer", "name", "dead1");
        foreach (string device in new[] { "dead0", "dead1" })
            Exec.Check("ip", "netns", "exec", _testbed.Client, "sysctl", "-qw", $"net.ipv6.conf.{device}.disable_ipv6=1");
        Exec.Check("ip", "-n", _testbed.Client, "addr", "add", "10.99.0.1/24", "dev", "dead0");
        Exec.Check("ip", "-n", _testbed.Client, "link", "set", "dead1", "up");
        Exec.Check("ip", "-n", _testbed.Client, "link", "set", "dead0", "up");
        string config = $$"""
            {
              "log": {"level": "info"},
              "inbounds": [{"type": "tun", "tag": "tun-in", "interface_name": "sluice0", "address": ["172.19.0.1/30", "fdfe:dcba:9876::1/126"], "auto_route": true}],
              "outbounds": [
                {"type": "direct", "tag": "direct"},
                {"type": "direct", "tag": "by-eth0", "bind_interface": "{{NamespaceTestbed.ClientInterface}}"}
              ],
              "route": {
                "rules": [{"ip_cidr": "{{NamespaceTestbed.ServerV6}}/128", "outbound": "by-eth0"}],
                "final": "direct",
                "default_interface": "dead0"
              }
            }
            """;
        var engine = _testbed.StartEngine(config).WaitStarted();

        var own = _testbed.RunInClient(Curl, "curl", "-sS", "--max-time", "15", EngineConfigs.ServerUrl(v6: true));
        Assert.True(own.Ok, own + "\n" + engine.Log);
        Assert.Equal(NamespaceTestbed.ClientV6, own.Stdout.Trim());

        long before = SentPackets("dead0");
        var bound = _testbed.RunInClient(Curl, "curl", "-sS", "--max-time", "15", EngineConfigs.ServerUrl());
        Assert.False(bound.Ok, "the flow reached the server although its sockets were bound to a device with no way there: " + bound);
        Assert.True(engine.WaitFor($"{NamespaceTestbed.ServerV4}:{NamespaceTestbed.HttpPort}", TimeSpan.FromSeconds(10)), engine.Log);
        // The engine's connection attempts (ARP for the server, taken as on-link on a bound socket, or the SYNs) left by dead0.
        Assert.True(SentPackets("dead0") > before, "nothing left by dead0\n" + engine.Log);
    }

    private long SentPackets(string device)
    {
        var result = Exec.Run(TimeSpan.FromSeconds(10), "ip", "-n", _testbed.Client, "-s", "-j", "link", "show", "dev", device);
        using var json = System.Text.Json.JsonDocument.Parse(result.Stdout);
        return json.RootElement[0].GetProperty("stats64").GetProperty("tx").GetProperty("packets").GetInt64();
    }

    public void Dispose() => _testbed.Dispose();
}
