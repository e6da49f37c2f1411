using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// Proxy chaining (<c>detour</c>) against real servers in the router namespace: an ss-server that
/// listens on <see cref="NamespaceTestbed.HiddenV4"/>, which the client cannot reach directly, so a
/// connection to it proves it was dialed through the detour (danted, microsocks, or another ss-server).
/// The target is the hidden HTTP server and UDP echo as in <see cref="ProxyLaneTests"/>.
/// </summary>
public sealed class ProxyDetourTests : IDisposable
{
    private const int HiddenShadowsocksPort = 8391;
    private const int MixedPort = 2080;
    private const string Method = "aes-128-gcm";
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(90);
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();

    public ProxyDetourTests() => _testbed.AddHiddenServer();

    /// <summary>The ss-server only reachable through a proxy in the router namespace.</summary>
    private void StartHiddenShadowsocks() =>
        ProxyPeers.StartShadowsocks(_testbed, Method, HiddenShadowsocksPort, NamespaceTestbed.HiddenV4);

    private static string HiddenShadowsocks(string detour) =>
        ProxyPeers.Shadowsocks("ss", Method, port: HiddenShadowsocksPort, server: NamespaceTestbed.HiddenV4)
            .Replace("}", detour.Length == 0 ? "}" : $", \"detour\": \"{detour}\"}}");

    private ExecResult UdpThroughTun(string message) =>
        _testbed.RunInClient(Long, "python3", _testbed.PeerScript, "udp", NamespaceTestbed.HiddenV4, NamespaceTestbed.UdpEchoPort.ToString(), message);

    [Fact]
    public void HiddenShadowsocksServer_WithoutDetour_IsUnreachable()
    {
        StartHiddenShadowsocks();
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(HiddenShadowsocks(detour: ""), final: "ss")).WaitStarted();

        var result = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "8", ProxyPeers.HiddenUrl());

        Assert.False(result.Ok, result + "\n" + engine.Log);
    }

    [Fact]
    public void Shadowsocks_DetouredThroughDante_CarriesTunTcpAndUdp()
    {
        StartHiddenShadowsocks();
        ProxyPeers.StartDante(_testbed);
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(
            HiddenShadowsocks(detour: "socks") + ", " + ProxyPeers.Socks("socks", ProxyPeers.DantePort), final: "ss")).WaitStarted();

        var tcp = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "20", ProxyPeers.HiddenUrl());
        // Shadowsocks UDP to the hidden server goes through dante's UDP ASSOCIATE.
        var udp = UdpThroughTun("udp-through-ss-through-socks");

        Assert.True(tcp.Ok, tcp + "\n" + engine.Log);
        Assert.Equal(NamespaceTestbed.HiddenV4, tcp.Stdout.Trim());
        Assert.True(udp.Ok, udp + "\n" + engine.Log);
        Assert.Equal("udp-through-ss-through-socks", udp.Stdout.Trim());
        Assert.True(engine.WaitFor("=> ss", TimeSpan.FromSeconds(5)), engine.Log);
    }

    [Fact]
    public void MixedInbound_ThroughShadowsocks_DetouredThroughMicrosocksWithPassword_TcpAndSocksUdpViaDante()
    {
        StartHiddenShadowsocks();
        ProxyPeers.StartMicrosocks(_testbed);
        ProxyPeers.StartDante(_testbed);
        // TCP: ss through microsocks (user/password, CONNECT only). UDP: a second ss outbound through dante.
        string outbounds = HiddenShadowsocks(detour: "microsocks") + ", "
            + HiddenShadowsocks(detour: "dante").Replace("\"tag\": \"ss\"", "\"tag\": \"ss-udp\"") + ", "
            + ProxyPeers.Socks("microsocks", ProxyPeers.MicrosocksPort, ProxyPeers.User, ProxyPeers.Password) + ", "
            + ProxyPeers.Socks("dante", ProxyPeers.DantePort);
        var engine = _testbed.StartEngine($$"""
            {
              "log": {"level": "info"},
              "inbounds": [{"type": "mixed", "tag": "mixed-in", "listen": "127.0.0.1", "listen_port": {{MixedPort}}}],
              "outbounds": [{{outbounds}}, {"type": "direct", "tag": "direct"}],
              "route": {"rules": [{"network": "udp", "outbound": "ss-udp"}], "final": "ss"}
            }
            """).WaitStarted();

        var socks = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "20", "-x", $"socks5h://127.0.0.1:{MixedPort}", ProxyPeers.HiddenUrl());
        var http = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "20", "-x", $"http://127.0.0.1:{MixedPort}", ProxyPeers.HiddenUrl());
        var udp = _testbed.RunInClient(Long, "python3", _testbed.PeerScript, "socks-udp", "127.0.0.1", MixedPort.ToString(),
            NamespaceTestbed.HiddenV4, NamespaceTestbed.UdpEchoPort.ToString(), "udp-mixed-ss-dante");

        Assert.True(socks.Ok, socks + "\n" + engine.Log);
        Assert.Equal(NamespaceTestbed.HiddenV4, socks.Stdout.Trim());
        Assert.True(http.Ok, http + "\n" + engine.Log);
        Assert.Equal(NamespaceTestbed.HiddenV4, http.Stdout.Trim());
        Assert.True(udp.Ok, udp + "\n" + engine.Log);
        Assert.Equal("udp-mixed-ss-dante", udp.Stdout.Trim());
    }

    [Fact]
    public void ShadowsocksOverShadowsocks_Download16MiB_ArrivesIntact_AndUdpRoundTrips()
    {
        StartHiddenShadowsocks();
        ProxyPeers.StartShadowsocks(_testbed, "chacha20-ietf-poly1305");
        var data = new byte[16 * 1024 * 1024];
        new Random(6).NextBytes(data);
        File.WriteAllBytes(Path.Combine(_testbed.WwwDir, "blob16.bin"), data);
        string expected = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(data));
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(
            HiddenShadowsocks(detour: "outer") + ", " + ProxyPeers.Shadowsocks("outer", "chacha20-ietf-poly1305"), final: "ss")).WaitStarted();

        var tcp = _testbed.RunInClient(Long, "sh", "-c", $"curl -sS --max-time 80 {ProxyPeers.HiddenUrl("blob16.bin")} | sha256sum");
        var udp = UdpThroughTun("udp-ss-over-ss");

        Assert.True(tcp.Ok, tcp + "\n" + engine.Log);
        Assert.Equal(expected, tcp.Stdout.Split(' ')[0]);
        Assert.True(udp.Ok, udp + "\n" + engine.Log);
        Assert.Equal("udp-ss-over-ss", udp.Stdout.Trim());
    }

    [Fact]
    public void Http_DetouredThroughSocks_ReachesAProxyTheClientCannot()
    {
        ProxyPeers.StartTinyproxy(_testbed);
        ProxyPeers.StartDante(_testbed);
        // The client's own packets to tinyproxy are dropped: only dante (in the router) reaches it.
        Exec.Check("ip", "netns", "exec", _testbed.Router, "nft", "add rule inet sluice_tb_hidden input iifname \"eth0\" tcp dport "
            + ProxyPeers.TinyproxyPort + " drop");
        var direct = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "3", "-x", $"http://{NamespaceTestbed.RouterV4}:{ProxyPeers.TinyproxyPort}", ProxyPeers.HiddenUrl());
        string http = ProxyPeers.Http("http").Replace("}", ", \"detour\": \"socks\"}");
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(http + ", " + ProxyPeers.Socks("socks", ProxyPeers.DantePort), final: "http")).WaitStarted();

        var result = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "20", ProxyPeers.HiddenUrl());

        Assert.False(direct.Ok, "tinyproxy is reachable from the client without the detour: the test proves nothing\n" + direct);
        Assert.True(result.Ok, result + "\n" + engine.Log);
        Assert.Equal(NamespaceTestbed.HiddenV4, result.Stdout.Trim());
    }

    [Fact]
    public void UrlTest_ProbesADetouredMember_ThroughItsDetour()
    {
        StartHiddenShadowsocks();
        ProxyPeers.StartDante(_testbed);
        string outbounds = HiddenShadowsocks(detour: "socks") + ", " + ProxyPeers.Socks("socks", ProxyPeers.DantePort)
            + """, {"type": "urltest", "tag": "auto", "outbounds": ["ss"], "interval": "1s"}""";
        // Counts connections to dante: the app's one, then one per probe that went through the detour.
        var counter = _testbed.RunInRouter(TimeSpan.FromSeconds(10), "nft",
            "add table inet e2e_probes; add chain inet e2e_probes in { type filter hook input priority -300; }; " +
            $"add rule inet e2e_probes in tcp dport {ProxyPeers.DantePort} tcp flags & (syn | ack) == syn counter");
        Assert.True(counter.Ok, counter.ToString());
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(outbounds, final: "auto")).WaitStarted();

        var result = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "20", ProxyPeers.HiddenUrl());
        Thread.Sleep(2500); // a probe round or two

        Assert.True(result.Ok, result + "\n" + engine.Log);
        Assert.Equal(NamespaceTestbed.HiddenV4, result.Stdout.Trim());
        // The probe rounds happened, and through the detour: more connections reached dante than the app made.
        var rule = _testbed.RunInRouter(TimeSpan.FromSeconds(10), "nft", "list", "chain", "inet", "e2e_probes", "in").Stdout;
        var match = System.Text.RegularExpressions.Regex.Match(rule, @"counter packets (\d+)");
        Assert.True(match.Success && int.Parse(match.Groups[1].Value) >= 3, $"fewer than 2 probes reached dante after the app's connection: {rule}\n{engine.Log}");
        // A probe that dialed around the detour would fail (the direct path is dropped) and be logged.
        Assert.DoesNotContain("no TCP answer", engine.Log, StringComparison.Ordinal);
        Assert.DoesNotContain("member ss is down", engine.Log, StringComparison.Ordinal);
    }

    public void Dispose() => _testbed.Dispose();
}
