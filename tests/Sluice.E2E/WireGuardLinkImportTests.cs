using Sluice.Hosting.Linux;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// A wireguard:// share link as a user gets it from a provider: `sluice import LINK` writes a config, `import --links`
/// gives the link back, and the config re-imported from that link carries traffic to Debian's wireguard-go.
/// </summary>
public sealed class WireGuardLinkImportTests : IDisposable
{
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();
    private readonly (string Private, string Public) _sluiceKeys = WireGuardGoPeer.GenerateKeys();

    [Fact]
    public void ImportedLink_RoundTripsThroughImportLinks_AndCarriesTcpAndUdpThroughWireGuardGo()
    {
        var peer = WireGuardGoPeer.Start(_testbed, _sluiceKeys.Public);
        string link = $"wireguard://{Uri.EscapeDataString(_sluiceKeys.Private)}@{NamespaceTestbed.RouterV4}:{WireGuardGoPeer.ListenPort}/"
            + $"?publickey={Uri.EscapeDataString(peer.PublicKey)}&address={WireGuardGoPeer.SluiceTunnelV4}/32,{WireGuardGoPeer.SluiceTunnelV6}/128&mtu=1420#wg%20home";
        string first = Path.Combine(_testbed.WorkDir, "first.json");

        var import = Sluice("import", link, "-o", first);
        var links = Sluice("import", first, "--links");
        string second = Path.Combine(_testbed.WorkDir, "second.json");
        var again = Sluice("import", links.Stdout.Trim(), "-o", second);

        Assert.True(import.Ok, import.ToString());
        Assert.True(links.Ok, links.ToString());
        Assert.StartsWith("wireguard://", links.Stdout.Trim());
        Assert.DoesNotContain('\n', links.Stdout.Trim());
        Assert.True(again.Ok, again.ToString());
        Assert.Equal(File.ReadAllText(first), File.ReadAllText(second));

        var engine = _testbed.StartEngine(File.ReadAllText(second)).WaitStarted();
        var tcp4 = _testbed.RunInClient(TimeSpan.FromSeconds(60), "curl", "-sS", "--max-time", "20", EngineConfigs.ServerUrl());
        var tcp6 = _testbed.RunInClient(TimeSpan.FromSeconds(60), "curl", "-sS", "--max-time", "20", EngineConfigs.ServerUrl(v6: true));
        var udp = _testbed.RunInClient(TimeSpan.FromSeconds(30), "python3", _testbed.PeerScript, "udp", NamespaceTestbed.ServerV4,
            NamespaceTestbed.UdpEchoPort.ToString(), "through-the-imported-link");

        // The server sees the tunnel addresses the link named: the flows went through wireguard-go, not direct.
        Assert.True(tcp4.Ok, tcp4 + "\n" + engine.Log);
        Assert.Equal(WireGuardGoPeer.SluiceTunnelV4, tcp4.Stdout.Trim());
        Assert.True(tcp6.Ok, tcp6 + "\n" + engine.Log);
        Assert.Equal(WireGuardGoPeer.SluiceTunnelV6, tcp6.Stdout.Trim());
        Assert.True(udp.Ok, udp + "\n" + engine.Log);
        Assert.Equal("through-the-imported-link", udp.Stdout.Trim());
        Assert.NotEqual("0", peer.Show("latest-handshakes").Split('\t').Last().Trim());
    }

    private static ExecResult Sluice(params string[] args) => Exec.Run(TimeSpan.FromSeconds(60), [.. SluiceBinary.Command(), .. args]);

    public void Dispose() => _testbed.Dispose();
}
