using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// Proxy lanes through the TUN against independent servers in the router namespace. The target
/// (<see cref="NamespaceTestbed.HiddenV4"/>) drops everything that comes from the client directly,
/// so an answer proves the flow went through the proxy.
/// </summary>
public sealed class ProxyLaneTests : IDisposable
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(90);
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();

    public ProxyLaneTests() => _testbed.AddHiddenServer();

    [Fact]
    public void HiddenServer_IsUnreachable_WithoutProxy()
    {
        var result = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "3", ProxyPeers.HiddenUrl());

        Assert.False(result.Ok, result.ToString());
    }

    [Theory]
    [InlineData("aes-128-gcm")]
    [InlineData("aes-192-gcm")]
    [InlineData("aes-256-gcm")]
    [InlineData("chacha20-ietf-poly1305")]
    public void Shadowsocks_Download100MiB_ArrivesIntact(string method)
    {
        string expected = ProxyPeers.WriteBlob(_testbed);
        ProxyPeers.StartShadowsocks(_testbed, method);
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(ProxyPeers.Shadowsocks("ss", method), final: "ss")).WaitStarted();

        var result = _testbed.RunInClient(Long, "sh", "-c", $"curl -sS --max-time 80 {ProxyPeers.HiddenUrl("blob.bin")} | sha256sum");

        Assert.True(result.Ok, result + "\n" + engine.Log);
        Assert.Equal(expected, result.Stdout.Split(' ')[0]);
        Assert.True(engine.WaitFor("=> ss", TimeSpan.FromSeconds(5)), engine.Log);
    }

    [Theory]
    [InlineData("aes-128-gcm")]
    [InlineData("aes-192-gcm")]
    [InlineData("aes-256-gcm")]
    [InlineData("chacha20-ietf-poly1305")]
    public void Shadowsocks_UdpEcho_RoundTrips(string method)
    {
        ProxyPeers.StartShadowsocks(_testbed, method);
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(ProxyPeers.Shadowsocks("ss", method), final: "ss")).WaitStarted();

        var result = _testbed.RunInClient(Long, "python3", _testbed.PeerScript, "udp", NamespaceTestbed.HiddenV4,
            NamespaceTestbed.UdpEchoPort.ToString(), "udp-through-shadowsocks");

        Assert.True(result.Ok, result + "\n" + engine.Log);
        Assert.Equal("udp-through-shadowsocks", result.Stdout.Trim());
    }

    [Fact]
    public void Socks_WithPassword_Download100MiB_ArrivesIntact()
    {
        string expected = ProxyPeers.WriteBlob(_testbed);
        ProxyPeers.StartMicrosocks(_testbed);
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(
            ProxyPeers.Socks("socks", ProxyPeers.MicrosocksPort, ProxyPeers.User, ProxyPeers.Password), final: "socks")).WaitStarted();

        var result = _testbed.RunInClient(Long, "sh", "-c", $"curl -sS --max-time 80 {ProxyPeers.HiddenUrl("blob.bin")} | sha256sum");

        Assert.True(result.Ok, result + "\n" + engine.Log);
        Assert.Equal(expected, result.Stdout.Split(' ')[0]);
    }

    [Fact]
    public void Socks_UdpAssociate_RoundTrips()
    {
        ProxyPeers.StartDante(_testbed);
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(ProxyPeers.Socks("socks", ProxyPeers.DantePort), final: "socks")).WaitStarted();

        var result = _testbed.RunInClient(Long, "python3", _testbed.PeerScript, "udp", NamespaceTestbed.HiddenV4,
            NamespaceTestbed.UdpEchoPort.ToString(), "udp-through-socks");

        Assert.True(result.Ok, result + "\n" + engine.Log);
        Assert.Equal("udp-through-socks", result.Stdout.Trim());
    }

    [Fact]
    public void Http_WithBasicAuth_Download100MiB_ArrivesIntact()
    {
        string expected = ProxyPeers.WriteBlob(_testbed);
        ProxyPeers.StartTinyproxy(_testbed);
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(ProxyPeers.Http("http"), final: "http")).WaitStarted();

        var result = _testbed.RunInClient(Long, "sh", "-c", $"curl -sS --max-time 80 {ProxyPeers.HiddenUrl("blob.bin")} | sha256sum");

        Assert.True(result.Ok, result + "\n" + engine.Log);
        Assert.Equal(expected, result.Stdout.Split(' ')[0]);
    }

    [Fact]
    public void TwoApps_SameDestination_OneViaShadowsocks_OneDirect_ServerSeesTwoSources()
    {
        ProxyPeers.StartShadowsocks(_testbed, "aes-128-gcm");
        string viaProxy = _testbed.CopyProgram("curl", "curl-ss");
        string direct = _testbed.CopyProgram("curl", "curl-direct");
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(ProxyPeers.Shadowsocks("ss", "aes-128-gcm"), final: "direct",
            rules: """{"process_name": "curl-ss", "outbound": "ss"}""")).WaitStarted();
        string url = EngineConfigs.ServerUrl();

        var a = _testbed.RunInClient(Long, viaProxy, "-sS", "--max-time", "20", url);
        var b = _testbed.RunInClient(Long, direct, "-sS", "--max-time", "20", url);

        Assert.True(a.Ok && b.Ok, a + "\n" + b + "\n" + engine.Log);
        // Direct: the client's own address. Via ss-server: the router connects to its own loopback address.
        Assert.Equal(NamespaceTestbed.ClientV4, b.Stdout.Trim());
        Assert.NotEqual(b.Stdout.Trim(), a.Stdout.Trim());
        Assert.Equal(NamespaceTestbed.ServerV4, a.Stdout.Trim());
    }

    [Fact]
    public void Shadowsocks_WrongPassword_LogsReason_AndClosesConnection()
    {
        ProxyPeers.StartShadowsocks(_testbed, "aes-256-gcm");
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(
            ProxyPeers.Shadowsocks("ss", "aes-256-gcm", password: "not-the-password"), final: "ss")).WaitStarted();

        var result = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "30", ProxyPeers.HiddenUrl());

        Assert.False(result.Ok, result.ToString());
        // Closed, not hung: curl ends well before its own 30 s limit.
        Assert.True(result.Elapsed < TimeSpan.FromSeconds(20), result.ToString() + "\n" + engine.Log);
        Assert.True(engine.WaitFor("wrong password or method", TimeSpan.FromSeconds(5)), engine.Log);
    }

    [Fact]
    public void Socks_WrongPassword_LogsReason_AndResetsConnection()
    {
        ProxyPeers.StartMicrosocks(_testbed);
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(
            ProxyPeers.Socks("socks", ProxyPeers.MicrosocksPort, ProxyPeers.User, "wrong"), final: "socks")).WaitStarted();

        var result = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "30", ProxyPeers.HiddenUrl());

        Assert.False(result.Ok, result.ToString());
        Assert.True(result.Elapsed < TimeSpan.FromSeconds(20), result.ToString());
        Assert.True(engine.WaitFor("username/password rejected", TimeSpan.FromSeconds(5)), engine.Log);
    }

    [Fact]
    public void Http_WrongPassword_LogsReason_AndResetsConnection()
    {
        ProxyPeers.StartTinyproxy(_testbed);
        var engine = _testbed.StartEngine(ProxyPeers.TunConfig(ProxyPeers.Http("http", password: "wrong"), final: "http")).WaitStarted();

        var result = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "30", ProxyPeers.HiddenUrl());

        Assert.False(result.Ok, result.ToString());
        Assert.True(result.Elapsed < TimeSpan.FromSeconds(20), result.ToString());
        Assert.True(engine.WaitFor("rejected the username/password", TimeSpan.FromSeconds(5)), engine.Log);
    }

    public void Dispose() => _testbed.Dispose();
}
