
namespace Sluice.E2E;

/// <summary>
/// The `mixed` inbound (no TUN) in front of Trojan and VLESS lanes: curl and a SOCKS5 UDP client in the
/// client namespace, through Sluice, through trojan-gfw or v2ray 4.34, to the hidden server.
/// </summary>
public sealed class TrojanVlessMixedInboundTests : IDisposable
{
    private const int MixedPort = 2080;
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(90);
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();
    private readonly TestCertificates _certificates = TestCertificates.Create();

    public TrojanVlessMixedInboundTests() => _testbed.AddHiddenServer();

    private string Config(string lane)
    {
        if (lane == "trojan-gfw") TlsPeers.StartTrojanGfw(_testbed, _certificates);
        else TlsPeers.StartV2ray(_testbed, _certificates);
        string outbound = lane switch
        {
            "trojan-gfw" => TlsPeers.Trojan("proxy", _certificates),
            "v2ray-trojan" => TlsPeers.Trojan("proxy", _certificates, TlsPeers.V2rayTrojanPort),
            "vless-tls" => TlsPeers.Vless("proxy", _certificates),
            _ => TlsPeers.Vless("proxy", _certificates, ws: true),
        };
        return $$"""
            {
              "log": {"level": "info"},
              "inbounds": [{"type": "mixed", "tag": "mixed-in", "listen": "127.0.0.1", "listen_port": {{MixedPort}}}],
              "outbounds": [{{outbound}}, {"type": "direct", "tag": "direct"}],
              "route": {"final": "proxy"}
            }
            """;
    }

    [Theory]
    [InlineData("trojan-gfw")]
    [InlineData("v2ray-trojan")]
    [InlineData("vless-tls")]
    [InlineData("vless-ws-tls")]
    public void Download100MiB_ThroughMixedInbound_ArrivesIntact(string lane)
    {
        string expected = ProxyPeers.WriteBlob(_testbed);
        var engine = _testbed.StartEngine(Config(lane)).WaitStarted();

        var result = _testbed.RunInClient(Long, "sh", "-c",
            $"curl -sS --max-time 80 -x socks5h://127.0.0.1:{MixedPort} {ProxyPeers.HiddenUrl("blob.bin")} | sha256sum");

        Assert.True(result.Ok, result + "\n" + engine.Log);
        Assert.True(expected == result.Stdout.Split(' ')[0], result + "\n" + engine.Log + TlsPeers.V2rayLog(_testbed));
    }

    [Theory]
    [InlineData("trojan-gfw")]
    [InlineData("v2ray-trojan")]
    [InlineData("vless-tls")]
    [InlineData("vless-ws-tls")]
    public void UdpAssociate_ThroughMixedInbound_RoundTrips(string lane)
    {
        var engine = _testbed.StartEngine(Config(lane)).WaitStarted();

        var result = _testbed.RunInClient(Long, "python3", _testbed.PeerScript, "socks-udp", "127.0.0.1", MixedPort.ToString(),
            NamespaceTestbed.HiddenV4, NamespaceTestbed.UdpEchoPort.ToString(), $"udp-via-{lane}");

        Assert.True(result.Ok, result + "\n" + engine.Log + TlsPeers.V2rayLog(_testbed));
        Assert.Equal($"udp-via-{lane}", result.Stdout.Trim());
    }

    public void Dispose()
    {
        _testbed.Dispose();
        _certificates.Dispose();
    }
}
