using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// Servers for the V2Ray transports besides WebSocket, in the router namespace with the test certificate:
/// - "http" (HTTP/2 over TLS): Debian's v2ray 4.34 itself, VLESS, Trojan and VMess inbounds with httpSettings;
/// - "grpc": Debian's grpcio (Peers/gun_relay.py: grpcio's HTTP/2, TLS and gRPC framing, Hunks unwrapped by hand) in
///   front of v2ray's plain-TCP VLESS and Trojan inbounds, so the proxy protocol is v2ray's;
/// - "httpupgrade": no packaged server has it (v2ray 4.34 predates it), so Peers/httpupgrade_relay.py, written from
///   sing-box's and V2Ray's published behaviour, in front of v2ray's plain-TCP VLESS inbound.
/// </summary>
internal static class V2RayTransportPeers
{
    public const int VlessH2Port = 8450;
    public const int TrojanH2Port = 8451;
    public const int VmessH2Port = 8452;
    public const int PlainVlessPort = 8453;
    public const int PlainTrojanPort = 8454;
    public const int GunVlessPort = 8455;
    public const int GunTrojanPort = 8456;
    public const int HttpUpgradePort = 8457;
    public const string H2Path = "/h2-tunnel";
    public const string H2Host = "h2.sluice.test";
    public const string GunService = "SluiceGun";
    public const string UpgradePath = "/upgrade-tunnel";

    public static string PeerPath(string script) => Path.Combine(AppContext.BaseDirectory, "Peers", script);

    public static string GunLogPath(NamespaceTestbed testbed, int port) => Path.Combine(testbed.WorkDir, $"gun-{port}.log");

    /// <summary>v2ray with the HTTP/2 inbounds and the plain ones the relays front.</summary>
    public static void StartV2ray(NamespaceTestbed testbed, TestCertificates certificates)
    {
        string config = Path.Combine(testbed.WorkDir, "v2ray-transports.json");
        string tls = $$"""{"certificates": [{"certificateFile": "{{certificates.CertPath}}", "keyFile": "{{certificates.KeyPath}}"}]}""";
        string h2 = $$"""{"network": "http", "security": "tls", "tlsSettings": {{tls}}, "httpSettings": {"path": "{{H2Path}}", "host": ["{{H2Host}}"]} }""";
        string vless = $$"""{"clients": [{"id": "{{TlsPeers.Uuid}}"}], "decryption": "none"}""";
        string trojan = $$"""{"clients": [{"password": "{{TlsPeers.Password}}"}]}""";
        string listen = NamespaceTestbed.RouterV4;
        File.WriteAllText(config, $$"""
            {
              "log": {"loglevel": "info", "error": "{{TlsPeers.V2rayLogPath(testbed)}}"},
              "inbounds": [
                {"listen": "{{listen}}", "port": {{VlessH2Port}}, "protocol": "vless", "settings": {{vless}}, "streamSettings": {{h2}}},
                {"listen": "{{listen}}", "port": {{TrojanH2Port}}, "protocol": "trojan", "settings": {{trojan}}, "streamSettings": {{h2}}},
                {"listen": "{{listen}}", "port": {{VmessH2Port}}, "protocol": "vmess",
                 "settings": {"clients": [{"id": "{{TlsPeers.Uuid}}", "alterId": 0}]}, "streamSettings": {{h2}} },
                {"listen": "127.0.0.1", "port": {{PlainVlessPort}}, "protocol": "vless", "settings": {{vless}}, "streamSettings": {"network": "tcp"} },
                {"listen": "127.0.0.1", "port": {{PlainTrojanPort}}, "protocol": "trojan", "settings": {{trojan}}, "streamSettings": {"network": "tcp"} }
              ],
              "outbounds": [{"protocol": "freedom", "sendThrough": "{{TlsPeers.V2raySource}}"}]
            }
            """);
        testbed.StartIn(testbed.Router, "v2ray", "-config", config);
        foreach (int port in new[] { VlessH2Port, TrojanH2Port, VmessH2Port }) ProxyPeers.WaitListening(testbed, port);
    }

    /// <summary>grpcio gun servers: one in front of the plain VLESS inbound, one in front of the plain Trojan inbound.</summary>
    public static void StartGun(NamespaceTestbed testbed, TestCertificates certificates)
    {
        foreach (var (port, upstream) in new[] { (GunVlessPort, PlainVlessPort), (GunTrojanPort, PlainTrojanPort) })
        {
            // Debian's interpreter: python3-grpcio is installed for it (a PATH python3 may be another).
            testbed.StartIn(testbed.Router, "/usr/bin/python3", PeerPath("gun_relay.py"), NamespaceTestbed.RouterV4, port.ToString(), GunService,
                certificates.CertPath, certificates.KeyPath, "127.0.0.1", upstream.ToString(), GunLogPath(testbed, port));
            ProxyPeers.WaitListening(testbed, port);
        }
    }

    public static void StartHttpUpgrade(NamespaceTestbed testbed, TestCertificates certificates)
    {
        testbed.StartIn(testbed.Router, "python3", PeerPath("httpupgrade_relay.py"), NamespaceTestbed.RouterV4, HttpUpgradePort.ToString(), UpgradePath,
            certificates.CertPath, certificates.KeyPath, "127.0.0.1", PlainVlessPort.ToString());
        ProxyPeers.WaitListening(testbed, HttpUpgradePort);
    }

    /// <summary>An outbound of <paramref name="protocol"/> (vless, trojan, vmess) over TLS and <paramref name="transport"/> to the matching server.</summary>
    public static string Outbound(string protocol, string transport, TestCertificates certificates, string? transportJson = null)
    {
        int port = (protocol, transport) switch
        {
            ("vless", "http") => VlessH2Port,
            ("trojan", "http") => TrojanH2Port,
            ("vmess", "http") => VmessH2Port,
            ("vless", "grpc") => GunVlessPort,
            ("trojan", "grpc") => GunTrojanPort,
            ("vless", "httpupgrade") => HttpUpgradePort,
            _ => throw new ArgumentException($"{protocol} over {transport}"),
        };
        transportJson ??= transport switch
        {
            "http" => $$"""{"type": "http", "host": ["{{H2Host}}"], "path": "{{H2Path}}"}""",
            "grpc" => $$"""{"type": "grpc", "service_name": "{{GunService}}"}""",
            _ => $$"""{"type": "httpupgrade", "path": "{{UpgradePath}}"}""",
        };
        string credential = protocol == "trojan" ? $"\"password\": \"{TlsPeers.Password}\"" : $"\"uuid\": \"{TlsPeers.Uuid}\"";
        return $$"""{"type": "{{protocol}}", "tag": "proxy", "server": "{{NamespaceTestbed.RouterV4}}", "server_port": {{port}}, {{credential}}, "tls": {{TlsPeers.Tls(certificates)}}, "transport": {{transportJson}}}""";
    }

    /// <summary>Writes a 24 MiB random file to the HTTP server's folder; returns its SHA-256 (hex).</summary>
    public static string WriteBlob(NamespaceTestbed testbed, string name = "blob24.bin")
    {
        var data = new byte[24 * 1024 * 1024];
        new Random(2027).NextBytes(data);
        File.WriteAllBytes(Path.Combine(testbed.WwwDir, name), data);
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(data));
    }

    /// <summary>How many TCP connections are established to <paramref name="port"/> in the router namespace.</summary>
    public static int ConnectionsTo(NamespaceTestbed testbed, int port)
    {
        var result = testbed.RunInRouter(TimeSpan.FromSeconds(10), "ss", "-Htn", "state", "established", $"( sport = :{port} )");
        return result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
    }
}
