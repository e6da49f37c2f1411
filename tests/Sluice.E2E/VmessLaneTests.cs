using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// VMess (AEAD header) lanes against Debian's v2ray 4.34 in the router namespace — an independent VMess server —
/// through the TUN and through the mixed inbound, over plain TCP and over WebSocket+TLS, with each body security.
/// The target (<see cref="NamespaceTestbed.HiddenV4"/>) drops what the client sends it directly, so an answer
/// proves the flow went through the proxy.
/// </summary>
public sealed class VmessLaneTests : IDisposable
{
    private const int MixedPort = 2080;
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(90);
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();
    private readonly TestCertificates _certificates = TestCertificates.Create();

    public VmessLaneTests() => _testbed.AddHiddenServer();

    private string Outbound(string lane) => lane switch
    {
        "aes-128-gcm" => TlsPeers.Vmess("proxy", _certificates, extra: ", \"security\": \"aes-128-gcm\""),
        "chacha20-padding" => TlsPeers.Vmess("proxy", _certificates, extra: ", \"security\": \"chacha20-poly1305\", \"global_padding\": true"),
        "none" => TlsPeers.Vmess("proxy", _certificates, extra: ", \"security\": \"none\""),
        "zero" => TlsPeers.Vmess("proxy", _certificates, extra: ", \"security\": \"zero\""),
        "auto-ws-tls" => TlsPeers.Vmess("proxy", _certificates, ws: true),
        "xudp" => TlsPeers.Vmess("proxy", _certificates, extra: ", \"packet_encoding\": \"xudp\""),
        "none-padding" => TlsPeers.Vmess("proxy", _certificates, extra: ", \"security\": \"none\", \"global_padding\": true"),
        _ => throw new ArgumentException(lane),
    };

    private string MixedConfig(string lane) => $$"""
        {
          "log": {"level": "info"},
          "inbounds": [{"type": "mixed", "tag": "mixed-in", "listen": "127.0.0.1", "listen_port": {{MixedPort}}}],
          "outbounds": [{{Outbound(lane)}}, {"type": "direct", "tag": "direct"}],
          "route": {"final": "proxy"}
        }
        """;

    [Theory]
    [InlineData("aes-128-gcm")]
    [InlineData("chacha20-padding")]
    [InlineData("none")]
    [InlineData("zero")]
    [InlineData("auto-ws-tls")]
    public void Download100MiB_ThroughTun_ArrivesIntact(string lane)
    {
        string expected = ProxyPeers.WriteBlob(_testbed);
        TlsPeers.StartV2ray(_testbed, _certificates);
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(Outbound(lane), final: "proxy")).WaitStarted();

        var result = _testbed.RunInClient(Long, "sh", "-c", $"curl -sS --max-time 80 {ProxyPeers.HiddenUrl("blob.bin")} | sha256sum");

        Assert.True(result.Ok, result + "\n" + engine.Log + TlsPeers.V2rayLog(_testbed));
        Assert.True(expected == result.Stdout.Split(' ')[0], result + "\n" + engine.Log + TlsPeers.V2rayLog(_testbed));
        Assert.True(engine.WaitFor("=> proxy", TimeSpan.FromSeconds(5)), engine.Log);
    }

    /// <summary>An upload the server hashes: the request direction's chunks (and the end chunk at half-close) arrive whole.</summary>
    [Theory]
    [InlineData("aes-128-gcm")]
    [InlineData("chacha20-padding")]
    public void Upload_ThroughTun_ServerReceivesEveryByte(string lane)
    {
        TlsPeers.StartV2ray(_testbed, _certificates);
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(Outbound(lane), final: "proxy")).WaitStarted();

        var result = _testbed.RunInClient(Long, "sh", "-c",
            $"head -c 20000000 /dev/urandom > /tmp/vmess-up.$$ && sha256sum < /tmp/vmess-up.$$ | cut -d' ' -f1 && " +
            $"curl -sS --max-time 60 --data-binary @/tmp/vmess-up.$$ {ProxyPeers.HiddenUrl("sha256")}; rm -f /tmp/vmess-up.$$");

        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(result.Ok && lines.Length == 2, result + "\n" + engine.Log + TlsPeers.V2rayLog(_testbed));
        Assert.True(lines[0].Trim() == lines[1].Trim(), result + "\n" + engine.Log + TlsPeers.V2rayLog(_testbed));
    }

    [Theory]
    [InlineData("aes-128-gcm")]
    [InlineData("chacha20-padding")]
    [InlineData("none-padding")]
    [InlineData("auto-ws-tls")]
    [InlineData("xudp")]
    public void UdpEcho_ThroughTun_RoundTrips(string lane)
    {
        TlsPeers.StartV2ray(_testbed, _certificates);
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(Outbound(lane), final: "proxy")).WaitStarted();

        var result = _testbed.RunInClient(Long, "python3", _testbed.PeerScript, "udp", NamespaceTestbed.HiddenV4,
            NamespaceTestbed.UdpEchoPort.ToString(), $"udp-through-vmess-{lane}");

        Assert.True(result.Ok, result + "\n" + engine.Log + TlsPeers.V2rayLog(_testbed));
        Assert.True($"udp-through-vmess-{lane}" == result.Stdout.Trim(), result + "\n" + engine.Log + TlsPeers.V2rayLog(_testbed));
    }

    [Theory]
    [InlineData("aes-128-gcm")]
    [InlineData("auto-ws-tls")]
    public void Download100MiB_ThroughMixedInbound_ArrivesIntact(string lane)
    {
        string expected = ProxyPeers.WriteBlob(_testbed);
        TlsPeers.StartV2ray(_testbed, _certificates);
        var engine = _testbed.StartEngine(MixedConfig(lane)).WaitStarted();

        var result = _testbed.RunInClient(Long, "sh", "-c",
            $"curl -sS --max-time 80 -x socks5h://127.0.0.1:{MixedPort} {ProxyPeers.HiddenUrl("blob.bin")} | sha256sum");

        Assert.True(result.Ok, result + "\n" + engine.Log + TlsPeers.V2rayLog(_testbed));
        Assert.True(expected == result.Stdout.Split(' ')[0], result + "\n" + engine.Log + TlsPeers.V2rayLog(_testbed));
    }

    [Theory]
    [InlineData("aes-128-gcm")]
    [InlineData("auto-ws-tls")]
    public void UdpAssociate_ThroughMixedInbound_RoundTrips(string lane)
    {
        TlsPeers.StartV2ray(_testbed, _certificates);
        var engine = _testbed.StartEngine(MixedConfig(lane)).WaitStarted();

        var result = _testbed.RunInClient(Long, "python3", _testbed.PeerScript, "socks-udp", "127.0.0.1", MixedPort.ToString(),
            NamespaceTestbed.HiddenV4, NamespaceTestbed.UdpEchoPort.ToString(), $"udp-via-vmess-{lane}");

        Assert.True(result.Ok, result + "\n" + engine.Log + TlsPeers.V2rayLog(_testbed));
        Assert.Equal($"udp-via-vmess-{lane}", result.Stdout.Trim());
    }

    /// <summary>
    /// v2ray cannot find the auth ID, drains the connection for a while (so a probe learns nothing) and closes it
    /// without answering: the app's connection ends with one warning per connection naming the likely cause, never a hang.
    /// </summary>
    [Fact]
    public void WrongUuid_LogsOneLinePerConnection_AndClosesTheConnection()
    {
        TlsPeers.StartV2ray(_testbed, _certificates);
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(
            TlsPeers.Vmess("proxy", _certificates, uuid: "00000000-1111-2222-3333-444444444444"), final: "proxy")).WaitStarted();

        var first = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "30", ProxyPeers.HiddenUrl());
        Assert.False(first.Ok, first.ToString());
        Assert.True(first.Elapsed < TimeSpan.FromSeconds(20), first + "\n" + engine.Log + TlsPeers.V2rayLog(_testbed));
        Assert.True(engine.WaitFor("wrong uuid", TimeSpan.FromSeconds(5)), engine.Log);
        Assert.DoesNotContain("00000000-1111", engine.Log, StringComparison.Ordinal);

        var second = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "30", ProxyPeers.HiddenUrl());
        Assert.False(second.Ok, second.ToString());
        Thread.Sleep(1000);
        Assert.True(2 == engine.Log.Split('\n').Count(l => l.Contains("wrong uuid", StringComparison.Ordinal)), engine.Log);
    }

    public void Dispose()
    {
        _testbed.Dispose();
        _certificates.Dispose();
    }
}
