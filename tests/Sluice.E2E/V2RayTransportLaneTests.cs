using Sluice.Hosting.Linux;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// VLESS, Trojan and VMess over the "http" (HTTP/2), "grpc" and "httpupgrade" transports, through the TUN (curl knows
/// nothing of proxies) and through the mixed inbound, against the servers of <see cref="V2RayTransportPeers"/>:
/// v2ray 4.34's own HTTP/2 inbounds, grpcio in front of v2ray, and the test's httpupgrade server in front of v2ray.
/// The target (<see cref="NamespaceTestbed.HiddenV4"/>) drops what the client sends it directly, so an answer proves
/// the flow went through the proxy.
/// </summary>
public sealed class V2RayTransportLaneTests : IDisposable
{
    private const int MixedPort = 2080;
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(90);
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();
    private readonly TestCertificates _certificates = TestCertificates.Create();

    public V2RayTransportLaneTests() => _testbed.AddHiddenServer();

    private static (string Protocol, string Transport) Split(string lane) => (lane[..lane.IndexOf('-')], lane[(lane.IndexOf('-') + 1)..]);

    private string Outbound(string lane, string? transportJson = null)
    {
        var (protocol, transport) = Split(lane);
        return V2RayTransportPeers.Outbound(protocol, transport, _certificates, transportJson);
    }

    private void StartServers(string lane)
    {
        V2RayTransportPeers.StartV2ray(_testbed, _certificates);
        switch (Split(lane).Transport)
        {
            case "grpc":
                V2RayTransportPeers.StartGun(_testbed, _certificates);
                break;
            case "httpupgrade":
                V2RayTransportPeers.StartHttpUpgrade(_testbed, _certificates);
                break;
        }
    }

    private string MixedConfig(string outbound) => $$"""
        {
          "log": {"level": "info"},
          "inbounds": [{"type": "mixed", "tag": "mixed-in", "listen": "127.0.0.1", "listen_port": {{MixedPort}}}],
          "outbounds": [{{outbound}}, {"type": "direct", "tag": "direct"}],
          "route": {"final": "proxy"}
        }
        """;

    private string Logs(EngineProcess engine) => engine.Log + TlsPeers.V2rayLog(_testbed);

    /// <summary>24 MiB down (hashed by the client) and 20 MB up (hashed by the server), through one proxy path.</summary>
    private void AssertBothWaysIntact(EngineProcess engine, string curlProxy)
    {
        string expected = V2RayTransportPeers.WriteBlob(_testbed);
        var down = _testbed.RunInClient(Long, "sh", "-c", $"curl -sS --max-time 80 {curlProxy} {ProxyPeers.HiddenUrl("blob24.bin")} | sha256sum");
        Assert.True(down.Ok, down + "\n" + Logs(engine));
        Assert.True(expected == down.Stdout.Split(' ')[0], down + "\n" + Logs(engine));

        var up = _testbed.RunInClient(Long, "sh", "-c",
            $"f=$(mktemp) && head -c 20000000 /dev/urandom > $f && sha256sum < $f | cut -d' ' -f1 && " +
            $"curl -sS --max-time 60 {curlProxy} --data-binary @$f {ProxyPeers.HiddenUrl("sha256")}; rm -f $f");
        var lines = up.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(up.Ok && lines.Length == 2, up + "\n" + Logs(engine));
        Assert.True(lines[0].Trim() == lines[1].Trim(), up + "\n" + Logs(engine));
    }

    [Theory]
    [InlineData("vless-http")]
    [InlineData("trojan-http")]
    [InlineData("vmess-http")]
    [InlineData("vless-grpc")]
    [InlineData("trojan-grpc")]
    [InlineData("vless-httpupgrade")]
    public void Tcp_ThroughTun_BothWaysArriveIntact(string lane)
    {
        StartServers(lane);
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(Outbound(lane), final: "proxy")).WaitStarted();

        AssertBothWaysIntact(engine, "");
        Assert.True(engine.WaitFor("=> proxy", TimeSpan.FromSeconds(5)), engine.Log);
    }

    [Theory]
    [InlineData("vless-http")]
    [InlineData("trojan-http")]
    [InlineData("vless-grpc")]
    [InlineData("trojan-grpc")]
    [InlineData("vless-httpupgrade")]
    public void Tcp_ThroughMixedInbound_BothWaysArriveIntact(string lane)
    {
        StartServers(lane);
        var engine = _testbed.StartEngine(MixedConfig(Outbound(lane))).WaitStarted();

        AssertBothWaysIntact(engine, $"-x socks5h://127.0.0.1:{MixedPort}");
    }

    [Theory]
    [InlineData("vless-http")]
    [InlineData("vmess-http")]
    [InlineData("vless-grpc")]
    [InlineData("vless-httpupgrade")]
    public void UdpEcho_ThroughTun_RoundTrips(string lane)
    {
        StartServers(lane);
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(Outbound(lane), final: "proxy")).WaitStarted();

        var result = _testbed.RunInClient(Long, "python3", _testbed.PeerScript, "udp", NamespaceTestbed.HiddenV4,
            NamespaceTestbed.UdpEchoPort.ToString(), $"udp-through-{lane}");

        Assert.True(result.Ok, result + "\n" + Logs(engine));
        Assert.True($"udp-through-{lane}" == result.Stdout.Trim(), result + "\n" + Logs(engine));
    }

    [Theory]
    [InlineData("vmess-http")]
    [InlineData("vless-grpc")]
    public void UdpAssociate_ThroughMixedInbound_RoundTrips(string lane)
    {
        StartServers(lane);
        var engine = _testbed.StartEngine(MixedConfig(Outbound(lane))).WaitStarted();

        var result = _testbed.RunInClient(Long, "python3", _testbed.PeerScript, "socks-udp", "127.0.0.1", MixedPort.ToString(),
            NamespaceTestbed.HiddenV4, NamespaceTestbed.UdpEchoPort.ToString(), $"udp-via-{lane}");

        Assert.True(result.Ok, result + "\n" + Logs(engine));
        Assert.Equal($"udp-via-{lane}", result.Stdout.Trim());
    }

    /// <summary>
    /// Eight downloads at once (each slowed so they overlap) ride streams of the outbound's shared HTTP/2 connections:
    /// the server sees fewer TCP connections than streams, and every download arrives intact.
    /// </summary>
    [Theory]
    [InlineData("vless-http", V2RayTransportPeers.VlessH2Port)]
    [InlineData("vless-grpc", V2RayTransportPeers.GunVlessPort)]
    public async Task ConcurrentConnections_ShareHttp2Connections(string lane, int port)
    {
        string expected = V2RayTransportPeers.WriteBlob(_testbed);
        StartServers(lane);
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(Outbound(lane), final: "proxy")).WaitStarted();

        const int streams = 8;
        var downloads = Task.Run(() => _testbed.RunInClient(Long, "sh", "-c",
            $"for i in $(seq {streams}); do (curl -sS --max-time 80 --limit-rate 4M {ProxyPeers.HiddenUrl("blob24.bin")} | sha256sum) & done; wait"));
        await Task.Delay(3000);
        int connections = V2RayTransportPeers.ConnectionsTo(_testbed, port);
        var result = await downloads;

        Assert.True(result.Ok, result + "\n" + Logs(engine));
        var sums = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(streams == sums.Length && sums.All(s => s.StartsWith(expected, StringComparison.Ordinal)), result + "\n" + Logs(engine));
        Assert.True(connections is > 0 and < streams, $"{connections} TCP connections to the server for {streams} streams\n" + Logs(engine));
    }

    /// <summary>
    /// A server that does not know the path or service answers each connection at once (v2ray: HTTP 404; grpcio:
    /// grpc-status 12; the upgrade server: 404): curl's connection closes well within the connect timeout and the
    /// log has one line per connection naming the outbound and the answer.
    /// </summary>
    [Theory]
    [InlineData("vless-http", """{"type": "http", "host": ["h2.sluice.test"], "path": "/wrong"}""", "HTTP 404")]
    [InlineData("vless-grpc", """{"type": "grpc", "service_name": "WrongService"}""", "status 12 UNIMPLEMENTED")]
    [InlineData("vless-httpupgrade", """{"type": "httpupgrade", "path": "/wrong"}""", "HTTP 404")]
    public void WrongPathOrService_LogsTheAnswerOncePerConnection_AndCloses(string lane, string transport, string answer)
    {
        StartServers(lane);
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(Outbound(lane, transport), final: "proxy")).WaitStarted();

        for (int i = 0; i < 2; i++)
        {
            var result = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "30", ProxyPeers.HiddenUrl());
            Assert.False(result.Ok, result.ToString());
            Assert.True(result.Elapsed < TimeSpan.FromSeconds(5), result + "\n" + Logs(engine));
        }
        Thread.Sleep(500);
        var lines = engine.Log.Split('\n').Where(l => l.Contains(answer, StringComparison.Ordinal)).ToList();
        Assert.True(2 == lines.Count, engine.Log);
        Assert.All(lines, l => Assert.Contains("vless \"proxy\"", l, StringComparison.Ordinal));
    }

    /// <summary>
    /// A provider's link as a user gets it: `sluice import LINK` writes a config, `import --links` gives the link back,
    /// the config re-imported from it is the same, and it carries traffic (allowInsecure: a link cannot pin the test CA;
    /// 10.200.0.1 is <see cref="NamespaceTestbed.RouterV4"/>, the ports <see cref="V2RayTransportPeers"/>'s).
    /// </summary>
    [Theory]
    [InlineData("vless-grpc", $"vless://{TlsPeers.Uuid}@10.200.0.1:8455?security=tls&sni=proxy.sluice.test&allowInsecure=1&type=grpc&serviceName=SluiceGun&mode=gun#gun")]
    [InlineData("trojan-http", "trojan://sluice-trojan-password@10.200.0.1:8451?sni=proxy.sluice.test&allowInsecure=1&type=h2&host=h2.sluice.test&path=%2Fh2-tunnel#h2")]
    [InlineData("vless-httpupgrade", $"vless://{TlsPeers.Uuid}@10.200.0.1:8457?security=tls&sni=proxy.sluice.test&allowInsecure=1&type=httpupgrade&path=%2Fupgrade-tunnel#up")]
    public void ImportedLink_RoundTripsThroughImportLinks_AndCarriesTraffic(string lane, string link)
    {
        StartServers(lane);
        string first = Path.Combine(_testbed.WorkDir, "first.json"), second = Path.Combine(_testbed.WorkDir, "second.json");

        var import = Sluice("import", link, "-o", first);
        var links = Sluice("import", first, "--links");
        var again = Sluice("import", links.Stdout.Trim(), "-o", second);

        Assert.True(import.Ok && links.Ok && again.Ok, $"{import}\n{links}\n{again}");
        Assert.Equal(File.ReadAllText(first), File.ReadAllText(second));
        var engine = _testbed.StartEngine(File.ReadAllText(second)).WaitStarted();
        var result = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "20", ProxyPeers.HiddenUrl());
        Assert.True(result.Ok, result + "\n" + Logs(engine));
        Assert.Equal(TlsPeers.V2raySource, result.Stdout.Trim()); // the target saw v2ray's address: the flow went through the proxy
    }

    private static ExecResult Sluice(params string[] args) => Exec.Run(TimeSpan.FromSeconds(60), [.. SluiceBinary.Command(), .. args]);

    public void Dispose()
    {
        _testbed.Dispose();
        _certificates.Dispose();
    }
}
