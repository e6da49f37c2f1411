using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// Shadowsocks xchacha20-ietf-poly1305 and the built-in SIP003 plugins against independent servers:
/// shadowsocks-libev's ss-server alone, and behind simple-obfs' obfs-server (http, tls) and
/// v2ray-plugin (websocket, websocket+TLS), all Debian's. Through the TUN (curl and a UDP client that
/// know nothing of proxies) and through the mixed inbound. The hidden server answers only the proxy.
/// UDP with a plugin goes to ss-server's own UDP port, as shadowsocks-libev's client does: obfs and
/// v2ray-plugin carry TCP only.
/// </summary>
public sealed class ShadowsocksPluginTests : IDisposable
{
    private const int MixedPort = 2081;
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(120);
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();

    public ShadowsocksPluginTests() => _testbed.AddHiddenServer();

    /// <summary>xchacha alone, obfs http/tls, v2ray-plugin plain and TLS: each a lane of <see cref="Start"/>.</summary>
    public static TheoryData<string> Lanes => ["xchacha", "obfs-http", "obfs-tls", "v2ray", "v2ray-tls"];

    /// <summary>Starts the server side of <paramref name="lane"/> and returns the outbound that reaches it.</summary>
    private string Start(string lane)
    {
        switch (lane)
        {
            case "xchacha":
                ShadowsocksPluginPeers.StartXChaCha(_testbed);
                return ShadowsocksPluginPeers.Outbound("ss", ShadowsocksPluginPeers.XChaChaPort, method: "xchacha20-ietf-poly1305");
            case "obfs-http":
                ShadowsocksPluginPeers.StartObfs(_testbed, tls: false);
                return ShadowsocksPluginPeers.Outbound("ss", ShadowsocksPluginPeers.ObfsHttpPort, "obfs-local", $"obfs=http;obfs-host={ShadowsocksPluginPeers.PluginHost}");
            case "obfs-tls":
                ShadowsocksPluginPeers.StartObfs(_testbed, tls: true);
                return ShadowsocksPluginPeers.Outbound("ss", ShadowsocksPluginPeers.ObfsTlsPort, "obfs-local", $"obfs=tls;obfs-host={ShadowsocksPluginPeers.PluginHost}");
            case "v2ray":
                ShadowsocksPluginPeers.StartV2Ray(_testbed, tls: false);
                return ShadowsocksPluginPeers.Outbound("ss", ShadowsocksPluginPeers.V2RayPort, "v2ray-plugin",
                    $"host={ShadowsocksPluginPeers.PluginHost};path={ShadowsocksPluginPeers.WsPath}");
            case "v2ray-tls":
                string ca = ShadowsocksPluginPeers.StartV2Ray(_testbed, tls: true)!;
                return ShadowsocksPluginPeers.Outbound("ss", ShadowsocksPluginPeers.V2RayTlsPort, "v2ray-plugin",
                    $"tls;host={ShadowsocksPluginPeers.PluginHost};path={ShadowsocksPluginPeers.WsPath};cert={ca}");
            default:
                throw new ArgumentException(lane);
        }
    }

    [Theory]
    [MemberData(nameof(Lanes))]
    public void ThroughTun_Download100MiB_ArrivesIntact(string lane)
    {
        string expected = ProxyPeers.WriteBlob(_testbed);
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(Start(lane), final: "ss")).WaitStarted();

        var result = _testbed.RunInClient(Long, "sh", "-c", $"curl -sS --max-time 100 {ProxyPeers.HiddenUrl("blob.bin")} | sha256sum");

        Assert.True(result.Ok, result + "\n" + engine.Log);
        Assert.True(expected == result.Stdout.Split(' ')[0], result + "\n" + engine.Log);
        Assert.True(engine.WaitFor("=> ss", TimeSpan.FromSeconds(5)), engine.Log);
    }

    [Theory]
    [MemberData(nameof(Lanes))]
    public void ThroughTun_UdpEcho_RoundTrips(string lane)
    {
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(Start(lane), final: "ss")).WaitStarted();

        var result = _testbed.RunInClient(Long, "python3", _testbed.PeerScript, "udp", NamespaceTestbed.HiddenV4,
            NamespaceTestbed.UdpEchoPort.ToString(), $"udp-through-{lane}");

        Assert.True(result.Ok, result + "\n" + engine.Log);
        Assert.Equal($"udp-through-{lane}", result.Stdout.Trim());
    }

    [Theory]
    [MemberData(nameof(Lanes))]
    public void ThroughMixedInbound_Download100MiB_ArrivesIntact(string lane)
    {
        string expected = ProxyPeers.WriteBlob(_testbed);
        var engine = _testbed.StartEngine(ShadowsocksPluginPeers.MixedConfig(Start(lane), MixedPort)).WaitStarted();

        var result = _testbed.RunInClient(Long, "sh", "-c",
            $"curl -sS --max-time 100 -x socks5h://127.0.0.1:{MixedPort} {ProxyPeers.HiddenUrl("blob.bin")} | sha256sum");

        Assert.True(result.Ok, result + "\n" + engine.Log);
        Assert.True(expected == result.Stdout.Split(' ')[0], result + "\n" + engine.Log);
    }

    [Theory]
    [MemberData(nameof(Lanes))]
    public void ThroughMixedInbound_UdpAssociate_RoundTrips(string lane)
    {
        var engine = _testbed.StartEngine(ShadowsocksPluginPeers.MixedConfig(Start(lane), MixedPort)).WaitStarted();

        var result = _testbed.RunInClient(Long, "python3", _testbed.PeerScript, "socks-udp", "127.0.0.1", MixedPort.ToString(),
            NamespaceTestbed.HiddenV4, NamespaceTestbed.UdpEchoPort.ToString(), $"udp-mixed-{lane}");

        Assert.True(result.Ok, result + "\n" + engine.Log);
        Assert.Equal($"udp-mixed-{lane}", result.Stdout.Trim());
    }

    [Fact]
    public void ObfsHttp_AgainstObfsTlsServer_FailsWithClearReason_NotAHang()
    {
        ShadowsocksPluginPeers.StartObfs(_testbed, tls: true);
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(ShadowsocksPluginPeers.Outbound("ss", ShadowsocksPluginPeers.ObfsTlsPort, "obfs-local", "obfs=http"),
            final: "ss")).WaitStarted();

        var result = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "30", ProxyPeers.HiddenUrl());

        Assert.False(result.Ok, result.ToString());
        Assert.True(result.Elapsed < TimeSpan.FromSeconds(20), result + "\n" + engine.Log);
    }

    public void Dispose() => _testbed.Dispose();
}
