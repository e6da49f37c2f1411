using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// The built-in DNS against real resolvers: a poisoning dnsmasq on the client's LAN (what resolv.conf
/// names) and an honest dnsmasq reachable only through the WireGuard tunnel (on wireguard-go's address).
/// </summary>
public sealed class DnsTests : IDisposable
{
    private const string PoisonedAnswer = NamespaceTestbed.RouterV4;   // the LAN resolver lies: video.example is the router
    private const string RealAnswer = NamespaceTestbed.ServerV4;
    private const string TunnelServer = "203.0.113.20";                 // a second server address, for domain routing
    private static readonly TimeSpan Dig = TimeSpan.FromSeconds(20);

    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();
    private readonly (string Private, string Public) _sluiceKeys = WireGuardGoPeer.GenerateKeys();
    private WireGuardGoPeer? _peer;

    public DnsTests()
    {
        // `ip netns exec` bind-mounts /etc/netns/<ns>/resolv.conf: the client's apps ask the LAN resolver.
        _testbed.SetResolvConf(_testbed.Client, $"nameserver {NamespaceTestbed.RouterV4}\n");
        Exec.Check("ip", "-n", _testbed.Router, "addr", "add", TunnelServer + "/32", "dev", "lo");
        // The poisoned LAN resolver.
        StartDnsmasq(NamespaceTestbed.RouterV4, $"/video.example/{PoisonedAnswer}", $"/a.tunnel.example/{PoisonedAnswer}", $"/plain.example/{RealAnswer}");
    }

    private void StartDnsmasq(string listen, params string[] addresses) => StartDnsmasq(listen, 53, addresses);

    private void StartDnsmasq(string listen, int port, params string[] addresses)
    {
        // --keep-in-foreground, not --no-daemon: in debug mode dnsmasq serves TCP in its main process, so
        // one idle TCP client (dnsdist's backend connection, a reused DNS-over-TCP connection) stops it
        // answering anything else. The query log goes to a file: nobody drains a pipe for it.
        string name = $"dnsmasq-{listen}-{port}";
        var argv = new List<string> { "dnsmasq", "--keep-in-foreground", "--user=root", "--no-resolv", "--no-hosts", "--bind-interfaces", "--log-queries",
            $"--log-facility={Path.Combine(_testbed.WorkDir, name + ".log")}",
            $"--listen-address={listen}", $"--port={port}", "--except-interface=lo", $"--pid-file={Path.Combine(_testbed.WorkDir, name + ".pid")}" };
        // dnsmasq ignores queries that arrive on an excluded interface, and a namespace's own queries to
        // its own address arrive on lo: only the resolvers asked from other namespaces exclude it.
        if (listen == NamespaceTestbed.RouterV4 || listen == LoopbackBackend) argv.Remove("--except-interface=lo");
        argv.AddRange(addresses.Select(a => "--address=" + a));
        var process = _testbed.StartIn(_testbed.Router, [.. argv]);
        for (int i = 0; i < 50; i++)
        {
            var probe = _testbed.RunInRouter(TimeSpan.FromSeconds(5), "dig", "+short", "+time=1", "+tries=1", "-p", port.ToString(), $"@{listen}", "plain.example");
            if (probe.Ok && probe.Stdout.Trim().Length > 0) return;
            if (process.HasExited) throw new InvalidOperationException("dnsmasq exited: " + process.StandardError.ReadToEnd());
            Thread.Sleep(100);
        }
        throw new InvalidOperationException($"dnsmasq on {listen} did not answer");
    }

    /// <summary>wireguard-go plus the honest resolver on its tunnel address; Sluice's DNS asks it through the tunnel.</summary>
    private EngineProcess StartSluiceWithTunnelDns(string extraRules = "", string? dnsSection = null, Action? beforeSluice = null, string extraInbounds = "",
        Func<string, string>? configure = null)
    {
        StartTunnel();
        beforeSluice?.Invoke();
        string config = _peer!.SluiceConfig(_sluiceKeys.Private, """{"port": 53, "action": "hijack-dns"}""" + extraRules);
        // By default one DNS server, through the WireGuard endpoint.
        dnsSection ??= $$"""
            {"servers": [{"type": "udp", "tag": "tunnel-dns", "server": "{{WireGuardGoPeer.RouterTunnelV4}}", "detour": "wg"}], "final": "tunnel-dns"}
            """;
        config = config.Replace("\"route\":", $"\"dns\": {dnsSection},\n  \"route\":");
        config = config.Replace("\"auto_route\": true}", "\"auto_route\": true}" + extraInbounds);
        config = config.Replace("""{"type": "direct", "tag": "direct"}""",
            "{\"type\": \"direct\", \"tag\": \"direct\"}, {\"type\": \"socks\", \"tag\": \"socks\", \"server\": \"" + NamespaceTestbed.RouterV4 + "\", \"server_port\": 1081}");
        return _testbed.StartEngine(configure?.Invoke(config) ?? config).WaitStarted();
    }

    private void StartTunnel()
    {
        _peer = WireGuardGoPeer.Start(_testbed, _sluiceKeys.Public);
        StartDnsmasq(WireGuardGoPeer.RouterTunnelV4, HonestAnswers);
    }

    private static readonly string[] HonestAnswers = [$"/video.example/{RealAnswer}", $"/a.tunnel.example/{TunnelServer}", $"/plain.example/{RealAnswer}"];

    /// <summary>Where dnsdist (DoH, DoT) finds the honest resolver: its own dnsmasq on the router's loopback.</summary>
    private const string LoopbackBackend = "127.0.0.1";
    private const int LoopbackBackendPort = 5354;

    /// <summary>The honest resolver again, on loopback, as dnsdist's backend (health-checked with a name it knows).</summary>
    private string DnsdistBackend()
    {
        StartDnsmasq(LoopbackBackend, LoopbackBackendPort, HonestAnswers);
        return $$"""newServer({address="{{LoopbackBackend}}:{{LoopbackBackendPort}}", checkName="plain.example."})""";
    }

    /// <summary>dnsdist serving DNS over HTTPS on the tunnel address (self-signed), backed by the honest dnsmasq.</summary>
    private void StartDohServer()
    {
        string cert = Path.Combine(_testbed.WorkDir, "doh-cert.pem"), key = Path.Combine(_testbed.WorkDir, "doh-key.pem");
        Exec.Check("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=doh.test", "-days", "1", "-keyout", key, "-out", cert);
        string conf = Path.Combine(_testbed.WorkDir, "dnsdist.conf"), backend = DnsdistBackend();
        File.WriteAllText(conf, $$"""
            setLocal("127.0.0.1:5300")
            addDOHLocal("{{WireGuardGoPeer.RouterTunnelV4}}:443", "{{cert}}", "{{key}}", "/dns-query")
            {{backend}}
            setServerPolicy(firstAvailable)
            """);
        _dohServer = _testbed.StartIn(_testbed.Router, "dnsdist", "--supervised", "--disable-syslog", "-C", conf);
        for (int i = 0; i < 50; i++)
        {
            var probe = _testbed.RunInRouter(TimeSpan.FromSeconds(5), "curl", "-sk", "--max-time", "1", "-o", "/dev/null", "-w", "%{http_code}",
                $"https://{WireGuardGoPeer.RouterTunnelV4}/dns-query?dns=AAABAAABAAAAAAAABXZpZGVvB2V4YW1wbGUAAAEAAQ");
            if (probe.Stdout.Trim() == "200") return;
            if (_dohServer.HasExited) throw new InvalidOperationException("dnsdist exited: " + _dohServer.StandardError.ReadToEnd());
            Thread.Sleep(200);
        }
        throw new InvalidOperationException("dnsdist's DoH endpoint did not answer");
    }

    private System.Diagnostics.Process? _dohServer;

    private string Lookup(string name) =>
        _testbed.RunInClient(Dig, "dig", "+short", "+time=3", "+tries=1", name).Stdout.Trim();

    [Fact]
    public void PoisonedLanResolver_IsBypassed_AnswersComeThroughTheTunnel()
    {
        // Without Sluice: the LAN resolver's lie, and the wrong site.
        Assert.Equal(PoisonedAnswer, Lookup("video.example"));
        var wrong = _testbed.RunInClient(Dig, "curl", "-sS", "--max-time", "10", "http://video.example:8080/site");
        Assert.Equal($"served by {PoisonedAnswer}", wrong.Stdout.Trim());

        var engine = StartSluiceWithTunnelDns();

        Assert.Equal(RealAnswer, Lookup("video.example"));
        var right = _testbed.RunInClient(Dig, "curl", "-sS", "--max-time", "10", "http://video.example:8080/site");
        Assert.True(right.Ok, right + "\n" + engine.Log);
        Assert.Equal($"served by {RealAnswer}", right.Stdout.Trim());
        Assert.True(engine.WaitFor("hijack-dns", TimeSpan.FromSeconds(5)), engine.Log);
    }

    /// <summary>
    /// The TCP and DoT upstreams against real servers: dnsmasq's TCP side and dnsdist's DoT listener,
    /// on the tunnel address. Plain UDP to the honest resolver from the tunnel is dropped in the router
    /// namespace, so the real answer can only have come over the transport under test.
    /// </summary>
    [Theory]
    [InlineData("tcp")]
    [InlineData("tls")]
    public void TcpAndDotUpstreams_AnswerThroughTheTunnel_FromRealServers(string transport)
    {
        string server = $$"""{"type": "tcp", "tag": "up", "server": "{{WireGuardGoPeer.RouterTunnelV4}}", "detour": "wg"}""";
        var engine = StartSluiceWithTunnelDns(dnsSection: "{\"servers\": [SERVER], \"final\": \"up\"}", beforeSluice: () =>
        {
            var dropUdp = _testbed.RunInRouter(TimeSpan.FromSeconds(10), "nft",
                "add table inet e2e_dns; add chain inet e2e_dns in { type filter hook input priority -300; }; " +
                $"add rule inet e2e_dns in iifname != \"lo\" ip daddr {WireGuardGoPeer.RouterTunnelV4} udp dport 53 counter drop");
            Assert.True(dropUdp.Ok, dropUdp.ToString());
            if (transport == "tls")
            {
                string cert = StartDotServer();
                server = $$$"""{"type": "tls", "tag": "up", "server": "{{{WireGuardGoPeer.RouterTunnelV4}}}", "detour": "wg", "tls": {"server_name": "dot.test", "certificate_path": "{{{cert}}}"}}""";
            }
        }, configure: c => c.Replace("SERVER", server));

        Assert.True(Lookup("video.example") == RealAnswer, engine.Log);
        Assert.True(Lookup("a.tunnel.example") == TunnelServer, engine.Log);
        Assert.True(engine.WaitFor("hijack-dns", TimeSpan.FromSeconds(5)), engine.Log);
    }

    /// <summary>dnsdist serving DNS over TLS on the tunnel address (a test CA's certificate for dot.test), backed by the honest dnsmasq; returns the CA file.</summary>
    private string StartDotServer()
    {
        string dir = _testbed.WorkDir;
        string ca = Path.Combine(dir, "dot-ca.pem"), caKey = Path.Combine(dir, "dot-ca-key.pem");
        string cert = Path.Combine(dir, "dot-cert.pem"), key = Path.Combine(dir, "dot-key.pem"), csr = Path.Combine(dir, "dot.csr");
        Exec.Check("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=Sluice test CA", "-days", "1", "-keyout", caKey, "-out", ca);
        Exec.Check("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=dot.test", "-keyout", key, "-out", csr);
        string ext = Path.Combine(dir, "dot.ext");
        File.WriteAllText(ext, "subjectAltName=DNS:dot.test\n");
        Exec.Check("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-days", "1", "-extfile", ext, "-out", cert);
        string conf = Path.Combine(dir, "dnsdist-dot.conf"), backend = DnsdistBackend();
        File.WriteAllText(conf, $$"""
            setLocal("127.0.0.1:5301")
            addTLSLocal("{{WireGuardGoPeer.RouterTunnelV4}}:853", "{{cert}}", "{{key}}")
            {{backend}}
            setServerPolicy(firstAvailable)
            """);
        var dot = _testbed.StartIn(_testbed.Router, "dnsdist", "--supervised", "--disable-syslog", "-C", conf);
        for (int i = 0; i < 50; i++)
        {
            var probe = _testbed.RunInRouter(TimeSpan.FromSeconds(5), "dig", "+short", "+tls", "+time=1", "+tries=1", "-p", "853", $"@{WireGuardGoPeer.RouterTunnelV4}", "video.example");
            if (probe.Ok && probe.Stdout.Trim() == RealAnswer) return ca;
            if (dot.HasExited) throw new InvalidOperationException("dnsdist (DoT) exited: " + dot.StandardError.ReadToEnd());
            Thread.Sleep(200);
        }
        throw new InvalidOperationException("dnsdist's DoT endpoint did not answer");
    }

    [Fact]
    public void ProtectedLookups_LeaveNoPort53PacketOnThePhysicalLink()
    {
        // Positive control: without Sluice the capture does see the lookups.
        Assert.True(CountPort53Packets(() => Lookup("video.example")) > 0, "the capture saw no plain DNS without Sluice: the oracle is blind");

        var engine = StartSluiceWithTunnelDns();
        int leaked = CountPort53Packets(() =>
        {
            for (int i = 0; i < 5; i++) Assert.Equal(RealAnswer, Lookup($"video.example"));
            Assert.Equal(RealAnswer, Lookup("plain.example"));
        });

        Assert.True(leaked == 0, $"{leaked} port-53 packets left on eth0\n{engine.Log}");
    }

    [Fact]
    public void DomainSuffixRule_SendsThatDomainThroughWireGuard_RestDirect()
    {
        var engine = StartSluiceWithTunnelDns(""", {"domain_suffix": "tunnel.example", "outbound": "wg"}""");

        var tunneled = _testbed.RunInClient(Dig, "curl", "-sS", "--max-time", "10", "http://a.tunnel.example:8080/whoami");
        var direct = _testbed.RunInClient(Dig, "curl", "-sS", "--max-time", "10", "http://plain.example:8080/whoami");

        Assert.True(tunneled.Ok, tunneled + "\n" + engine.Log);
        Assert.True(direct.Ok, direct + "\n" + engine.Log);
        // The L3 lane only sees IP packets: the domain came from Sluice's own DNS answer.
        Assert.Equal(WireGuardGoPeer.SluiceTunnelV4, tunneled.Stdout.Trim());
        Assert.Equal(NamespaceTestbed.ClientV4, direct.Stdout.Trim());
    }

    [Fact]
    public void PerProcessSplit_ProtectedAppUsesDohThroughTunnel_OtherAppPlainDirect()
    {
        string protectedDig = _testbed.CopyProgram("dig", "dig-protected");
        string plainDig = _testbed.CopyProgram("dig", "dig-plain");
        string dns = $$$"""
            {"servers": [
               {"type": "https", "tag": "doh", "server": "{{{WireGuardGoPeer.RouterTunnelV4}}}", "detour": "wg", "tls": {"insecure": true} },
               {"type": "udp", "tag": "plain", "server": "{{{NamespaceTestbed.RouterV4}}}"}],
             "rules": [{"process_name": "dig-protected", "server": "doh"}],
             "final": "plain"}
            """;
        var engine = StartSluiceWithTunnelDns(dnsSection: dns, beforeSluice: StartDohServer);

        string viaDoh = "", viaPlain = "";
        int plainPackets = CountPort53Packets(() =>
        {
            viaDoh = _testbed.RunInClient(Dig, protectedDig, "+short", "+time=5", "+tries=1", "video.example").Stdout.Trim();
            viaPlain = _testbed.RunInClient(Dig, plainDig, "+short", "+time=5", "+tries=1", "video.example").Stdout.Trim();
        });

        // Same name, one run: the protected app got the honest answer over DoH through the tunnel,
        // the other app the LAN resolver's, asked in plain UDP on the physical link.
        Assert.True(viaDoh == RealAnswer, $"protected app got \"{viaDoh}\"\n{engine.Log}");
        Assert.Equal(PoisonedAnswer, viaPlain);
        Assert.Equal(2, plainPackets); // exactly the plain query and its answer
    }

    [Fact]
    public void FakeIp_ProxyLaneDialsTheName_WireGuardLaneGetsTheRealAddress()
    {
        string tunneled = _testbed.CopyProgram("curl", "curl-wg");
        string proxied = _testbed.CopyProgram("curl", "curl-socks");
        // The SOCKS server resolves names with the router's own dnsmasq.
        _testbed.SetResolvConf(_testbed.Router, $"nameserver {NamespaceTestbed.RouterV4}\n");
        string dns = $$"""
            {"servers": [
               {"type": "fakeip", "tag": "fake", "inet4_range": "198.18.0.0/15"},
               {"type": "udp", "tag": "tunnel-dns", "server": "{{WireGuardGoPeer.RouterTunnelV4}}", "detour": "wg"}],
             "rules": [{"query_type": ["A", "AAAA"], "server": "fake"}],
             "final": "tunnel-dns"}
            """;
        const int SocksPort = 1081;
        _testbed.StartIn(_testbed.Router, "microsocks", "-i", NamespaceTestbed.RouterV4, "-p", SocksPort.ToString());
        var engine = StartSluiceWithTunnelDns(""", {"process_name": "curl-wg", "outbound": "wg"}, {"process_name": "curl-socks", "outbound": "socks"}""", dns);
        var fake = Lookup("plain.example");
        Assert.StartsWith("198.1", fake);

        var viaTunnel = _testbed.RunInClient(Dig, tunneled, "-sS", "--max-time", "10", "--retry", "2", "http://plain.example:8080/whoami");
        var viaProxy = _testbed.RunInClient(Dig, proxied, "-sS", "--max-time", "10", "http://plain.example:8080/site");

        // WireGuard: the flow reached the real server (its answer names the tunnel source).
        Assert.True(viaTunnel.Ok, viaTunnel + "\n" + engine.Log);
        Assert.Equal(WireGuardGoPeer.SluiceTunnelV4, viaTunnel.Stdout.Trim());
        // SOCKS: the fake address is routable nowhere, so an answer means the proxy dialed the name.
        Assert.True(viaProxy.Ok, viaProxy + "\n" + engine.Log);
        Assert.Equal($"served by {RealAnswer}", viaProxy.Stdout.Trim());
    }

    [Fact]
    public void HijackedTcpQuery_IsAnswered()
    {
        var engine = StartSluiceWithTunnelDns();

        var result = _testbed.RunInClient(Dig, "dig", "+short", "+tcp", "+time=3", "+tries=1", "video.example");

        Assert.True(result.Ok, result + "\n" + engine.Log);
        Assert.Equal(RealAnswer, result.Stdout.Trim());
    }

    [Fact]
    public void LoopbackListener_AnswersDigOverUdpAndTcp_WithPerProcessRules()
    {
        string protectedDig = _testbed.CopyProgram("dig", "dig-protected");
        string[] listener = ["@127.0.0.1", "-p", "5353", "+short", "+time=3", "+tries=1"];
        // Positive control: nothing answers on the listener's port without Sluice.
        var before = _testbed.RunInClient(Dig, ["dig", .. listener, "video.example"]);
        Assert.DoesNotContain(PoisonedAnswer, before.Stdout);
        Assert.DoesNotContain(RealAnswer, before.Stdout);

        string dns = $$"""
            {"servers": [
               {"type": "udp", "tag": "tunnel-dns", "server": "{{WireGuardGoPeer.RouterTunnelV4}}", "detour": "wg"},
               {"type": "udp", "tag": "lan", "server": "{{NamespaceTestbed.RouterV4}}"}],
             "rules": [{"process_name": "dig-protected", "server": "tunnel-dns"}],
             "final": "lan"}
            """;
        var engine = StartSluiceWithTunnelDns(""", {"inbound": "dns-in", "action": "hijack-dns"}""", dns,
            extraInbounds: """, {"type": "direct", "tag": "dns-in", "listen": "127.0.0.1", "listen_port": 5353}""");

        var plainUdp = _testbed.RunInClient(Dig, ["dig", .. listener, "video.example"]);
        var plainTcp = _testbed.RunInClient(Dig, ["dig", .. listener, "+tcp", "video.example"]);
        var protectedUdp = _testbed.RunInClient(Dig, [protectedDig, .. listener, "video.example"]);
        var protectedTcp = _testbed.RunInClient(Dig, [protectedDig, .. listener, "+tcp", "video.example"]);

        // Every other app gets the LAN resolver's answer; the protected one the tunnel's, over UDP and TCP alike.
        Assert.True(plainUdp.Stdout.Trim() == PoisonedAnswer, plainUdp + "\n" + engine.Log);
        Assert.True(plainTcp.Stdout.Trim() == PoisonedAnswer, plainTcp + "\n" + engine.Log);
        Assert.True(protectedUdp.Stdout.Trim() == RealAnswer, protectedUdp + "\n" + engine.Log);
        Assert.True(protectedTcp.Stdout.Trim() == RealAnswer, protectedTcp + "\n" + engine.Log);
        Assert.True(engine.WaitFor("dns-in: DNS listening on 127.0.0.1:5353 (udp+tcp)", TimeSpan.FromSeconds(5)), engine.Log);
    }

    /// <summary>Runs an action while tshark captures port 53 on the client's physical link; returns the packet count.</summary>
    private int CountPort53Packets(Action action)
    {
        using var capture = new WireCapture(_testbed, "dns", captureFilter: "port 53");
        action();
        Thread.Sleep(500);
        return capture.Count("udp.port == 53 || tcp.port == 53");
    }

    public void Dispose()
    {
        _testbed.Dispose();
    }
}
