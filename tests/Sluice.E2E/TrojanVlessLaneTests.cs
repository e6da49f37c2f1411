using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// Trojan and VLESS lanes through the TUN, against Debian's trojan-gfw and v2ray 4.34 in the router
/// namespace, over TLS with a test CA. The target (<see cref="NamespaceTestbed.HiddenV4"/>) drops what the
/// client sends it directly, so an answer proves the flow went through the proxy.
/// </summary>
public sealed class TrojanVlessLaneTests : IDisposable
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(90);
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();
    private readonly TestCertificates _certificates = TestCertificates.Create();

    public TrojanVlessLaneTests() => _testbed.AddHiddenServer();

    private string Outbound(string lane) => lane switch
    {
        "trojan-gfw" => TlsPeers.Trojan("proxy", _certificates),
        "v2ray-trojan" => TlsPeers.Trojan("proxy", _certificates, TlsPeers.V2rayTrojanPort),
        "vless-tls" => TlsPeers.Vless("proxy", _certificates),
        "vless-ws-tls" => TlsPeers.Vless("proxy", _certificates, ws: true),
        "vless-tls-plain-udp" => TlsPeers.Vless("proxy", _certificates, extra: ", \"packet_encoding\": \"\""),
        "v2ray-https-proxy" => TlsPeers.HttpsProxy("proxy", _certificates),
        _ => throw new ArgumentException(lane),
    };

    private void StartServer(string lane)
    {
        if (lane == "trojan-gfw") TlsPeers.StartTrojanGfw(_testbed, _certificates);
        else TlsPeers.StartV2ray(_testbed, _certificates);
    }

    [Theory]
    [InlineData("trojan-gfw")]
    [InlineData("v2ray-trojan")]
    [InlineData("vless-tls")]
    [InlineData("vless-ws-tls")]
    [InlineData("v2ray-https-proxy")]
    public void Download100MiB_ThroughTun_ArrivesIntact(string lane)
    {
        string expected = ProxyPeers.WriteBlob(_testbed);
        StartServer(lane);
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(Outbound(lane), final: "proxy")).WaitStarted();

        var result = _testbed.RunInClient(Long, "sh", "-c", $"curl -sS --max-time 80 {ProxyPeers.HiddenUrl("blob.bin")} | sha256sum");

        Assert.True(result.Ok, result + "\n" + engine.Log + TlsPeers.V2rayLog(_testbed));
        Assert.True(expected == result.Stdout.Split(' ')[0], result + "\n" + engine.Log + TlsPeers.V2rayLog(_testbed));
        Assert.True(engine.WaitFor("=> proxy", TimeSpan.FromSeconds(5)), engine.Log);
    }

    [Theory]
    [InlineData("trojan-gfw")]
    [InlineData("v2ray-trojan")]
    [InlineData("vless-tls")]
    [InlineData("vless-ws-tls")]
    [InlineData("vless-tls-plain-udp")]
    public void UdpEcho_ThroughTun_RoundTrips(string lane)
    {
        StartServer(lane);
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(Outbound(lane), final: "proxy")).WaitStarted();

        var result = _testbed.RunInClient(Long, "python3", _testbed.PeerScript, "udp", NamespaceTestbed.HiddenV4,
            NamespaceTestbed.UdpEchoPort.ToString(), $"udp-through-{lane}");

        Assert.True(result.Ok, result + "\n" + engine.Log + TlsPeers.V2rayLog(_testbed));
        Assert.True($"udp-through-{lane}" == result.Stdout.Trim(), result + "\n" + engine.Log + TlsPeers.V2rayLog(_testbed));
    }

    /// <summary>
    /// v2ray 4.34 answers the upgrade without echoing the early data (its wsSettings' maxEarlyData is a field it
    /// does not know) and drops it: the first connection gets nothing (v2ray waits for a frame until curl gives up),
    /// the outbound learns it (one warning that says so, not "wrong uuid"), and from then on the request rides in
    /// the first frame: 100 MiB intact.
    /// </summary>
    [Fact]
    public void VlessWs_EarlyDataTheServerDrops_FirstConnectionLearnsIt_ThenDownloadArrivesIntact()
    {
        string expected = ProxyPeers.WriteBlob(_testbed);
        TlsPeers.StartV2ray(_testbed, _certificates);
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(TlsPeers.Vless("proxy", _certificates, ws: true, earlyData: 2048), final: "proxy")).WaitStarted();

        var first = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "6", ProxyPeers.HiddenUrl());
        Assert.False(first.Ok, first + "\n" + engine.Log + TlsPeers.V2rayLog(_testbed)); // the request in the header was dropped
        Assert.True(engine.WaitFor("ignores early data", TimeSpan.FromSeconds(5)), engine.Log + TlsPeers.V2rayLog(_testbed));

        var result = _testbed.RunInClient(Long, "sh", "-c", $"curl -sS --max-time 80 {ProxyPeers.HiddenUrl("blob.bin")} | sha256sum");

        Assert.True(result.Ok, result + "\n" + engine.Log + TlsPeers.V2rayLog(_testbed));
        Assert.True(expected == result.Stdout.Split(' ')[0], result + "\n" + engine.Log + TlsPeers.V2rayLog(_testbed));
        Assert.Single(engine.Log.Split('\n'), l => l.Contains("ignores early data", StringComparison.Ordinal));
        Assert.DoesNotContain("wrong uuid", engine.Log, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("trojan-gfw")]
    [InlineData("v2ray-trojan")]
    public void Trojan_WrongPassword_LogsOneLine_AndClosesConnection(string lane)
    {
        StartServer(lane);
        int port = lane == "trojan-gfw" ? TlsPeers.TrojanGfwPort : TlsPeers.V2rayTrojanPort;
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(
            TlsPeers.Trojan("proxy", _certificates, port, password: "not-the-password"), final: "proxy")).WaitStarted();

        var result = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "30", ProxyPeers.HiddenUrl());

        Assert.False(result.Ok, result.ToString());
        // Closed within the connect timeout (5 s), not hung until curl's own limit.
        Assert.True(result.Elapsed < TimeSpan.FromSeconds(6), result + "\n" + engine.Log + TlsPeers.V2rayLog(_testbed));
        Assert.True(engine.WaitFor("wrong password", TimeSpan.FromSeconds(5)), engine.Log);
        Assert.DoesNotContain("not-the-password", engine.Log, StringComparison.Ordinal);
        AssertOneLinePerConnection(engine, "wrong password");
    }

    [Fact]
    public void HttpsProxy_WrongPassword_IsNamedInOneLine_AndTheConnectionClosed()
    {
        TlsPeers.StartV2ray(_testbed, _certificates);
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(TlsPeers.HttpsProxy("proxy", _certificates, password: "not-the-password"), final: "proxy")).WaitStarted();

        var result = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "30", ProxyPeers.HiddenUrl());

        Assert.False(result.Ok, result.ToString());
        Assert.True(result.Elapsed < TimeSpan.FromSeconds(6), result + "\n" + engine.Log + TlsPeers.V2rayLog(_testbed));
        Assert.True(engine.WaitFor("rejected the username/password", TimeSpan.FromSeconds(5)), engine.Log + TlsPeers.V2rayLog(_testbed));
        Assert.DoesNotContain("not-the-password", engine.Log, StringComparison.Ordinal);
    }

    [Fact]
    public void Vless_WrongUuid_LogsOneLine_AndClosesConnection()
    {
        StartServer("vless-tls");
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(
            TlsPeers.Vless("proxy", _certificates, uuid: "00000000-1111-2222-3333-444444444444"), final: "proxy")).WaitStarted();

        var result = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "30", ProxyPeers.HiddenUrl());

        Assert.False(result.Ok, result.ToString());
        Assert.True(result.Elapsed < TimeSpan.FromSeconds(6), result + "\n" + engine.Log + TlsPeers.V2rayLog(_testbed));
        Assert.True(engine.WaitFor("wrong uuid", TimeSpan.FromSeconds(5)), engine.Log);
        Assert.DoesNotContain("00000000-1111", engine.Log, StringComparison.Ordinal);
        AssertOneLinePerConnection(engine, "wrong uuid");
    }

    /// <summary>
    /// A TLS 1.2-only server is reached through the default TLS client: the own TLS 1.3 client meets a TLS 1.2
    /// ServerHello, the outbound switches to SslStream (one info line) and dials that connection again; later
    /// connections go straight to SslStream.
    /// </summary>
    [Fact]
    public void Trojan_Tls12OnlyServer_IsReached_ThroughTheFallbackToSslStream()
    {
        TlsPeers.StartTrojanGfw(_testbed, _certificates, tls12Only: true);
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(TlsPeers.Trojan("proxy", _certificates), final: "proxy")).WaitStarted();

        var first = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "20", ProxyPeers.HiddenUrl());
        var second = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "20", ProxyPeers.HiddenUrl());

        Assert.True(first.Ok && second.Ok, first + "\n" + second + "\n" + engine.Log);
        Assert.True(1 == engine.Log.Split('\n').Count(l => l.Contains("the server answered with TLS 1.2", StringComparison.Ordinal)), engine.Log);
    }

    [Fact]
    public void Trojan_ServerCertificateFromAnotherCa_IsRefused_WithReason()
    {
        TlsPeers.StartTrojanGfw(_testbed, _certificates);
        using var other = TestCertificates.Create();
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(TlsPeers.Trojan("proxy", other), final: "proxy")).WaitStarted();

        var result = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "20", ProxyPeers.HiddenUrl());

        Assert.False(result.Ok, result.ToString());
        Assert.True(engine.WaitFor("not signed by the pinned CA", TimeSpan.FromSeconds(5)), engine.Log);
    }

    [Fact]
    public void ThreeApps_SameDestination_ViaVless_ViaTrojan_Direct_ServerSeesThreeSources()
    {
        TlsPeers.StartTrojanGfw(_testbed, _certificates);
        TlsPeers.StartV2ray(_testbed, _certificates);
        string viaVless = _testbed.CopyProgram("curl", "curl-vless");
        string viaTrojan = _testbed.CopyProgram("curl", "curl-trojan");
        string direct = _testbed.CopyProgram("curl", "curl-direct");
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(
            TlsPeers.Vless("vless", _certificates) + ", " + TlsPeers.Trojan("trojan", _certificates), final: "direct",
            rules: """{"process_name": "curl-vless", "outbound": "vless"}, {"process_name": "curl-trojan", "outbound": "trojan"}""")).WaitStarted();
        string url = EngineConfigs.ServerUrl();

        var a = _testbed.RunInClient(Long, viaVless, "-sS", "--max-time", "20", url);
        var b = _testbed.RunInClient(Long, viaTrojan, "-sS", "--max-time", "20", url);
        var c = _testbed.RunInClient(Long, direct, "-sS", "--max-time", "20", url);

        Assert.True(a.Ok && b.Ok && c.Ok, a + "\n" + b + "\n" + c + "\n" + engine.Log);
        // v2ray sends from the router's veth address; trojan-gfw from the server's own (loopback) address.
        Assert.Equal(TlsPeers.V2raySource, a.Stdout.Trim());
        Assert.Equal(NamespaceTestbed.ServerV4, b.Stdout.Trim());
        Assert.Equal(NamespaceTestbed.ClientV4, c.Stdout.Trim());
    }

    /// <summary>A second refused connection adds exactly one more line naming the reason: one per connection, not per retry or per pump.</summary>
    private void AssertOneLinePerConnection(EngineProcess engine, string reason)
    {
        int Lines() => engine.Log.Split('\n').Count(l => l.Contains(reason, StringComparison.Ordinal));
        Thread.Sleep(500);
        Assert.True(Lines() == 1, engine.Log);
        var again = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "30", ProxyPeers.HiddenUrl());
        Assert.True(!again.Ok && again.Elapsed < TimeSpan.FromSeconds(6), again + "\n" + engine.Log);
        for (int i = 0; i < 25 && Lines() < 2; i++) Thread.Sleep(200);
        Thread.Sleep(500);
        Assert.True(Lines() == 2, engine.Log);
    }

    public void Dispose()
    {
        _testbed.Dispose();
        _certificates.Dispose();
    }
}
