using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// tls.utls on ordinary TLS outbounds (no Reality) against v2ray 4.34 (Go's crypto/tls, TLS 1.3): the connection
/// runs Sluice's own Chrome-shaped TLS 1.3 client instead of SslStream. tshark on the client's veth reads the
/// ClientHello off the wire; the same lane over SslStream (cipher_suites set, which selects it) is the positive control
/// (OpenSSL's hello: no GREASE).
/// </summary>
public sealed class UtlsLaneTests : IDisposable
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(90);
    private const string Utls = ", \"utls\": {\"enabled\": true, \"fingerprint\": \"chrome\"}";

    /// <summary>Chrome's cipher suites after the GREASE one (BoringSSL's order), as tshark prints them.</summary>
    private const string ChromeSuites = "0x1301,0x1302,0x1303,0xc02b,0xc02f,0xc02c,0xc030,0xcca9,0xcca8,0xc013,0xc014,0x009c,0x009d,0x002f,0x0035";

    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();
    private readonly TestCertificates _certificates = TestCertificates.Create();

    public UtlsLaneTests() => _testbed.AddHiddenServer();

    private string Outbound(string lane, bool utls)
    {
        string tls = TlsPeers.Tls(_certificates);
        // Without utls the default is the own client too (Chrome-shaped); cipher_suites selects SslStream.
        tls = tls[..^1] + (utls ? Utls : ", \"cipher_suites\": [\"TLS_AES_128_GCM_SHA256\"]") + "}";
        return lane switch
        {
            "v2ray-trojan" => $$"""{"type": "trojan", "tag": "proxy", "server": "{{NamespaceTestbed.RouterV4}}", "server_port": {{TlsPeers.V2rayTrojanPort}}, "password": "{{TlsPeers.Password}}", "tls": {{tls}}}""",
            _ => $$"""{"type": "vless", "tag": "proxy", "server": "{{NamespaceTestbed.RouterV4}}", "server_port": {{TlsPeers.V2rayVlessWsPort}}, "uuid": "{{TlsPeers.Uuid}}", "tls": {{tls}}, "transport": {"type": "ws", "path": "{{TlsPeers.WsPath}}"} }""",
        };
    }

    private static int Port(string lane) => lane == "v2ray-trojan" ? TlsPeers.V2rayTrojanPort : TlsPeers.V2rayVlessWsPort;

    /// <summary>Only TLS handshake records to the server's port (first payload byte 0x16), not the 100 MiB.</summary>
    private static string HandshakeFilter(int port) => $"tcp dst port {port} and tcp[((tcp[12:1] & 0xf0) >> 2):1] = 0x16";

    [Theory]
    [InlineData("v2ray-trojan")]
    [InlineData("vless-ws-tls")]
    public void UtlsChrome_Download100MiB_ArrivesIntact_AndTheWireShowsAChromeShapedHello(string lane)
    {
        string expected = ProxyPeers.WriteBlob(_testbed);
        TlsPeers.StartV2ray(_testbed, _certificates);
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(Outbound(lane, utls: true), final: "proxy")).WaitStarted();
        using var capture = new WireCapture(_testbed, "utls-hello", HandshakeFilter(Port(lane)));

        var result = _testbed.RunInClient(Long, "sh", "-c", $"curl -sS --max-time 80 {ProxyPeers.HiddenUrl("blob.bin")} | sha256sum");

        Assert.True(result.Ok, result + "\n" + engine.Log + TlsPeers.V2rayLog(_testbed));
        Assert.True(expected == result.Stdout.Split(' ')[0], result + "\n" + engine.Log + TlsPeers.V2rayLog(_testbed));
        var suites = capture.Values("tls.handshake.type == 1", "tls.handshake.ciphersuite");
        Assert.True(suites.Length > 0, "a ClientHello on the wire\n" + capture.Describe("tcp", 40));
        foreach (var hello in suites)
        {
            var list = hello.Split(',');
            Assert.True(IsGrease(list[0]), $"the first cipher suite is GREASE, as Chrome sends it: {hello}");
            Assert.Equal(ChromeSuites, string.Join(',', list[1..]));
        }
        var extensions = capture.Values("tls.handshake.type == 1", "tls.handshake.extension.type")[0].Split(',');
        Assert.True(IsGrease(extensions[0]), $"the first extension is GREASE: {string.Join(',', extensions)}");
    }

    /// <summary>The positive control for the oracle above: through SslStream the hello is OpenSSL's, with no GREASE anywhere.</summary>
    [Fact]
    public void ThroughSslStream_TheWireShowsOpensslsHello_NotChromes()
    {
        TlsPeers.StartV2ray(_testbed, _certificates);
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(Outbound("v2ray-trojan", utls: false), final: "proxy")).WaitStarted();
        // The whole link, no BPF: the payload-offset BPF the utls test uses did not catch SslStream's hello
        // (failed with it in the full run and alone; passes without it); with no big transfer the capture stays small.
        using var capture = new WireCapture(_testbed, "openssl-hello");

        var result = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "20", ProxyPeers.HiddenUrl());

        Assert.True(result.Ok, result + "\n" + engine.Log);
        var suites = capture.Values("tls.handshake.type == 1", "tls.handshake.ciphersuite");
        Assert.True(suites.Length > 0, "a ClientHello on the wire\n" + capture.Describe("tcp", 40));
        Assert.DoesNotContain(suites[0].Split(','), IsGrease);
        Assert.NotEqual(ChromeSuites, string.Join(',', suites[0].Split(',').Skip(1)));
    }

    /// <summary>GREASE values are 0x?a?a with both bytes equal (RFC 8701); tshark prints them in hex or decimal.</summary>
    private static bool IsGrease(string value)
    {
        int v = value.StartsWith("0x", StringComparison.Ordinal) ? Convert.ToInt32(value, 16) : int.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
        return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
    }

    public void Dispose()
    {
        _testbed.Dispose();
        _certificates.Dispose();
    }
}
