using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// The `mixed` inbound (SOCKS5, SOCKS4/4a and HTTP on one loopback port) without a TUN: real curl and a SOCKS5 UDP
/// client in the client namespace, through Sluice, through ss-server, to the hidden server.
/// </summary>
public sealed class ProxyMixedInboundTests : IDisposable
{
    private const int MixedPort = 2080;
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(90);
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();

    public ProxyMixedInboundTests() => _testbed.AddHiddenServer();

    private static string MixedConfig(string outbound, string users = "") => $$"""
        {
          "log": {"level": "info"},
          "inbounds": [{"type": "mixed", "tag": "mixed-in", "listen": "127.0.0.1", "listen_port": {{MixedPort}}{{users}}}],
          "outbounds": [{{outbound}}, {"type": "direct", "tag": "direct"}],
          "route": {"final": "ss"}
        }
        """;

    [Theory]
    [InlineData("socks5h")]
    [InlineData("http")]
    [InlineData("socks4")]
    [InlineData("socks4a")]
    public void Download100MiB_ThroughMixedInbound_AndShadowsocks_ArrivesIntact(string scheme)
    {
        string expected = ProxyPeers.WriteBlob(_testbed);
        ProxyPeers.StartShadowsocks(_testbed, "chacha20-ietf-poly1305");
        var engine = _testbed.StartEngine(MixedConfig(ProxyPeers.Shadowsocks("ss", "chacha20-ietf-poly1305"))).WaitStarted();

        var result = _testbed.RunInClient(Long, "sh", "-c",
            $"curl -sS --max-time 80 -x {scheme}://127.0.0.1:{MixedPort} {ProxyPeers.HiddenUrl("blob.bin")} | sha256sum");

        Assert.True(result.Ok, result + "\n" + engine.Log);
        Assert.Equal(expected, result.Stdout.Split(' ')[0]);
        Assert.True(engine.WaitFor("mixed-in: tcp 127.0.0.1", TimeSpan.FromSeconds(5)), engine.Log);
    }

    [Fact]
    public void HttpsStyleConnect_ThroughMixedInbound_ReachesHiddenServer()
    {
        ProxyPeers.StartShadowsocks(_testbed, "aes-128-gcm");
        var engine = _testbed.StartEngine(MixedConfig(ProxyPeers.Shadowsocks("ss", "aes-128-gcm"))).WaitStarted();

        // -p: tunnel through CONNECT even for http://, as browsers do for https.
        var result = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "20", "-p", "-x", $"http://127.0.0.1:{MixedPort}", ProxyPeers.HiddenUrl());

        Assert.True(result.Ok, result + "\n" + engine.Log);
        Assert.Equal(NamespaceTestbed.HiddenV4, result.Stdout.Trim());
    }

    /// <summary>
    /// wget (as apt and browsers do) keeps one proxy connection for requests to several hosts: each request must reach
    /// its own host, told apart by the address that answered.
    /// </summary>
    [Fact]
    public void Wget_OneKeepAliveProxyConnection_ToTwoHosts_EachRequestReachesItsHost()
    {
        ProxyPeers.StartShadowsocks(_testbed, "aes-128-gcm");
        var engine = _testbed.StartEngine(MixedConfig(ProxyPeers.Shadowsocks("ss", "aes-128-gcm"))).WaitStarted();
        string hidden = $"http://{NamespaceTestbed.HiddenV4}:{NamespaceTestbed.HttpPort}/site", server = $"http://{NamespaceTestbed.ServerV4}:{NamespaceTestbed.HttpPort}/site";

        var result = _testbed.RunInClient(Long, "env", $"http_proxy=http://127.0.0.1:{MixedPort}", "wget", "-O", "-", "--tries=1", "--timeout=10", hidden, server, hidden);

        Assert.True(result.Ok, result + "\n" + engine.Log);
        Assert.Equal([$"served by {NamespaceTestbed.HiddenV4}", $"served by {NamespaceTestbed.ServerV4}", $"served by {NamespaceTestbed.HiddenV4}"],
            result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("Reusing existing connection", result.Stderr, StringComparison.Ordinal); // one proxy connection carried all three
    }

    /// <summary>Headless Chromium with an HTTP proxy: a page whose scripts alternate between two hosts runs all of them.</summary>
    [Fact]
    public void Chromium_ThroughHttpProxy_RunsScriptsFromTwoHosts()
    {
        string page = $"http://{NamespaceTestbed.HiddenV4}:{NamespaceTestbed.HttpPort}/page.html", other = $"http://{NamespaceTestbed.ServerV4}:{NamespaceTestbed.HttpPort}";
        File.WriteAllText(Path.Combine(_testbed.WwwDir, "page.html"), $"""
            <html><body><p>page</p>
            <script src="{other}/s1.js"></script><script src="/s2.js"></script><script src="{other}/s3.js"></script><script src="/s4.js"></script>
            </body></html>
            """);
        for (int i = 1; i <= 4; i++)
            File.WriteAllText(Path.Combine(_testbed.WwwDir, $"s{i}.js"), $"document.body.insertAdjacentHTML('beforeend', '<p>ran-s{i}</p>');");
        ProxyPeers.StartShadowsocks(_testbed, "aes-128-gcm");
        var engine = _testbed.StartEngine(MixedConfig(ProxyPeers.Shadowsocks("ss", "aes-128-gcm"))).WaitStarted();

        var result = _testbed.RunInClient(Long, "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-background-networking", "--disable-component-update", "--no-first-run", $"--user-data-dir={Path.Combine(_testbed.WorkDir, "chromium")}",
            $"--proxy-server=http://127.0.0.1:{MixedPort}", "--dump-dom", page);

        Assert.True(result.Ok, result + "\n" + engine.Log);
        for (int i = 1; i <= 4; i++) Assert.Contains($"<p>ran-s{i}</p>", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void ServerSpeaksFirst_ThroughMixedInbound_AndShadowsocks_GreetingArrives()
    {
        // An SMTP-like server greets before the client says anything: Sluice holds the Shadowsocks
        // request back for the app's first bytes, and must send it alone when none come.
        _testbed.StartIn(_testbed.Router, "socat", $"TCP-LISTEN:2525,bind={NamespaceTestbed.HiddenV4},fork,reuseaddr", "SYSTEM:echo 220 hidden.example ESMTP; sleep 2");
        ProxyPeers.StartShadowsocks(_testbed, "aes-128-gcm");
        var engine = _testbed.StartEngine(MixedConfig(ProxyPeers.Shadowsocks("ss", "aes-128-gcm"))).WaitStarted();

        // A SOCKS5 client that only listens after the handshake.
        string client = $$"""
            import socket
            c = socket.create_connection(("127.0.0.1", {{MixedPort}})); c.settimeout(5)
            c.sendall(b"\x05\x01\x00"); assert c.recv(2) == b"\x05\x00"
            c.sendall(b"\x05\x01\x00\x01" + socket.inet_aton("{{NamespaceTestbed.HiddenV4}}") + (2525).to_bytes(2, "big"))
            reply = b""
            while len(reply) < 10: reply += c.recv(10 - len(reply))
            print(c.recv(100).decode().strip())
            """;
        var result = _testbed.RunInClient(Long, "python3", "-c", client);

        Assert.Contains("220 hidden.example ESMTP", result.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong password", engine.Log, StringComparison.Ordinal);
    }

    [Fact]
    public void ProcessRule_OnMixedInbound_MatchesTheAppBehindTheProxyConnection()
    {
        ProxyPeers.StartShadowsocks(_testbed, "aes-128-gcm");
        string config = MixedConfig(ProxyPeers.Shadowsocks("ss", "aes-128-gcm"))
            .Replace("\"route\": {\"final\": \"ss\"}", """
                "route": {"rules": [{"process_name": "curl-direct", "outbound": "direct"}], "final": "ss"}
                """, StringComparison.Ordinal);
        var engine = _testbed.StartEngine(config).WaitStarted();
        string direct = _testbed.CopyProgram("curl", "curl-direct");

        // The hidden server is reachable only through ss-server: the app the rule sends direct cannot get there.
        var viaProxy = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "10", "-x", $"socks5h://127.0.0.1:{MixedPort}", ProxyPeers.HiddenUrl());
        var viaDirect = _testbed.RunInClient(Long, direct, "-sS", "--max-time", "5", "-x", $"socks5h://127.0.0.1:{MixedPort}", ProxyPeers.HiddenUrl());

        Assert.True(viaProxy.Ok, viaProxy + "\n" + engine.Log);
        Assert.Equal(NamespaceTestbed.HiddenV4, viaProxy.Stdout.Trim());
        Assert.False(viaDirect.Ok, viaDirect + "\n" + engine.Log);
        Assert.True(engine.WaitFor("=> direct (rule 0)", TimeSpan.FromSeconds(5)), engine.Log);
        Assert.True(engine.WaitFor("=> ss (final)", TimeSpan.FromSeconds(5)), engine.Log);
    }

    [Fact]
    public void UdpAssociate_ThroughMixedInbound_AndShadowsocks_RoundTrips()
    {
        ProxyPeers.StartShadowsocks(_testbed, "aes-256-gcm");
        var engine = _testbed.StartEngine(MixedConfig(ProxyPeers.Shadowsocks("ss", "aes-256-gcm"))).WaitStarted();

        var result = _testbed.RunInClient(Long, "python3", _testbed.PeerScript, "socks-udp", "127.0.0.1", MixedPort.ToString(),
            NamespaceTestbed.HiddenV4, NamespaceTestbed.UdpEchoPort.ToString(), "udp-through-mixed");

        Assert.True(result.Ok, result + "\n" + engine.Log);
        Assert.Equal("udp-through-mixed", result.Stdout.Trim());
    }

    [Fact]
    public void MixedInbound_WithUsers_RefusesWrongPassword_AcceptsRightOne()
    {
        ProxyPeers.StartShadowsocks(_testbed, "aes-128-gcm");
        var engine = _testbed.StartEngine(MixedConfig(ProxyPeers.Shadowsocks("ss", "aes-128-gcm"),
            users: """, "users": [{"username": "u", "password": "p"}]""")).WaitStarted();

        var wrong = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "10", "-x", $"socks5h://u:x@127.0.0.1:{MixedPort}", ProxyPeers.HiddenUrl());
        var wrongHttp = _testbed.RunInClient(Long, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "-x", $"http://u:x@127.0.0.1:{MixedPort}", ProxyPeers.HiddenUrl());
        var right = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "10", "-x", $"socks5h://u:p@127.0.0.1:{MixedPort}", ProxyPeers.HiddenUrl());

        Assert.False(wrong.Ok, wrong.ToString());
        Assert.Equal("407", wrongHttp.Stdout.Trim());
        Assert.True(right.Ok, right + "\n" + engine.Log);
        Assert.Equal(NamespaceTestbed.HiddenV4, right.Stdout.Trim());
    }

    public void Dispose() => _testbed.Dispose();
}
