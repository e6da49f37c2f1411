using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// A throw-away test CA and a server certificate for <see cref="ServerName"/> and the router's address,
/// made with openssl in a mktemp directory that is removed on dispose.
/// </summary>
internal sealed class TestCertificates : IDisposable
{
    public const string ServerName = "proxy.sluice.test";

    private TestCertificates(string dir) => Directory = dir;

    public string Directory { get; }

    public string CaPath => Path.Combine(Directory, "ca.pem");

    public string CertPath => Path.Combine(Directory, "server.pem");

    public string KeyPath => Path.Combine(Directory, "server.key");

    public static TestCertificates Create()
    {
        string dir = Exec.Check("mktemp", "-d").Trim();
        var certificates = new TestCertificates(dir);
        try
        {
            string ext = Path.Combine(dir, "san.ext");
            File.WriteAllText(ext, $"subjectAltName=DNS:{ServerName},IP:{NamespaceTestbed.RouterV4}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
            Run(dir, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
                "-subj", "/CN=Sluice Test CA", "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
            Run(dir, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "server.key", "-out", "server.csr",
                "-subj", $"/CN={ServerName}");
            Run(dir, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem",
                "-days", "2", "-extfile", ext);
            // The servers run as root in their namespace; v2ray and trojan read the key themselves.
            return certificates;
        }
        catch
        {
            certificates.Dispose();
            throw;
        }
    }

    private static void Run(string dir, params string[] args) => Exec.Check(["sh", "-c", $"cd '{dir}' && exec \"$@\"", "sh", "openssl", .. args]);

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>
/// Trojan and VLESS servers in the router namespace: Debian's trojan-gfw (server mode) and v2ray 4.34
/// (trojan, VLESS over TLS, VLESS over WebSocket+TLS), all with the test certificate.
/// </summary>
internal static class TlsPeers
{
    public const string Password = "sluice-trojan-password";
    public const string Uuid = "b831381d-6324-4d53-ad4f-8cda48b30811";
    public const int TrojanGfwPort = 8443;
    public const int V2rayTrojanPort = 8444;
    public const int V2rayVlessPort = 8445;
    public const int V2rayVlessWsPort = 8446;
    public const string WsPath = "/vless-ws";

    /// <summary>v2ray's VMess inbound (alterId 0: the AEAD header) over plain TCP, and over WebSocket+TLS at <see cref="VmessWsPath"/>.</summary>
    public const int V2rayVmessPort = 8448;
    public const int V2rayVmessWsPort = 8449;
    public const string VmessWsPath = "/vmess-ws";

    /// <summary>v2ray's http inbound over TLS: an HTTPS proxy with basic auth (user "sluice", password <see cref="Password"/>).</summary>
    public const int V2rayHttpsProxyPort = 8447;

    /// <summary>Where v2ray's outgoing connections come from (trojan-gfw's come from the address it dials).</summary>
    public const string V2raySource = NamespaceTestbed.RouterV4;

    /// <param name="tls12Only">
    /// The server speaks TLS 1.2 at most: trojan-gfw has no version setting, so its OpenSSL is given a configuration
    /// (OPENSSL_CONF) whose system default is MaxProtocol TLSv1.2.
    /// </param>
    public static void StartTrojanGfw(NamespaceTestbed testbed, TestCertificates certificates, bool tls12Only = false)
    {
        string config = Path.Combine(testbed.WorkDir, "trojan.json");
        // remote_port: where trojan-gfw hands connections with a wrong password (nothing listens: it closes them).
        File.WriteAllText(config, $$"""
            {
              "run_type": "server", "local_addr": "{{NamespaceTestbed.RouterV4}}", "local_port": {{TrojanGfwPort}},
              "remote_addr": "127.0.0.1", "remote_port": 9,
              "password": ["{{Password}}"], "log_level": 2,
              "ssl": {"cert": "{{certificates.CertPath}}", "key": "{{certificates.KeyPath}}", "key_password": "",
                      "prefer_server_cipher": true, "alpn": ["http/1.1"], "reuse_session": true, "session_ticket": false},
              "tcp": {"no_delay": true, "keep_alive": true, "reuse_port": false, "fast_open": false}
            }
            """);
        if (tls12Only)
        {
            string openssl = Path.Combine(testbed.WorkDir, "openssl-tls12.cnf");
            File.WriteAllText(openssl, """
                openssl_conf = default_conf
                [default_conf]
                ssl_conf = ssl_section
                [ssl_section]
                system_default = system_default_section
                [system_default_section]
                MaxProtocol = TLSv1.2
                """);
            testbed.StartIn(testbed.Router, "env", $"OPENSSL_CONF={openssl}", "trojan", "-c", config);
        }
        else testbed.StartIn(testbed.Router, "trojan", "-c", config);
        ProxyPeers.WaitListening(testbed, TrojanGfwPort);
    }

    public static void StartV2ray(NamespaceTestbed testbed, TestCertificates certificates)
    {
        string config = Path.Combine(testbed.WorkDir, "v2ray.json");
        string tls = $$"""{"certificates": [{"certificateFile": "{{certificates.CertPath}}", "keyFile": "{{certificates.KeyPath}}"}]}""";
        File.WriteAllText(config, """
            {
              "log": {"loglevel": "info", "error": "@LOG"},
              "inbounds": [
                {"listen": "@LISTEN", "port": @TROJAN, "protocol": "trojan",
                 "settings": {"clients": [{"password": "@PASSWORD"}]},
                 "streamSettings": {"network": "tcp", "security": "tls", "tlsSettings": @TLS}},
                {"listen": "@LISTEN", "port": @VLESS, "protocol": "vless",
                 "settings": {"clients": [{"id": "@UUID"}], "decryption": "none"},
                 "streamSettings": {"network": "tcp", "security": "tls", "tlsSettings": @TLS}},
                {"listen": "@LISTEN", "port": @WS, "protocol": "vless",
                 "settings": {"clients": [{"id": "@UUID"}], "decryption": "none"},
                 "streamSettings": {"network": "ws", "security": "tls", "tlsSettings": @TLS,
                   "wsSettings": {"path": "@PATH", "maxEarlyData": 2048, "earlyDataHeaderName": "Sec-WebSocket-Protocol"}}},
                {"listen": "@LISTEN", "port": @VMESS, "protocol": "vmess",
                 "settings": {"clients": [{"id": "@UUID", "alterId": 0}]}, "streamSettings": {"network": "tcp"}},
                {"listen": "@LISTEN", "port": @VMWS, "protocol": "vmess",
                 "settings": {"clients": [{"id": "@UUID", "alterId": 0}]},
                 "streamSettings": {"network": "ws", "security": "tls", "tlsSettings": @TLS, "wsSettings": {"path": "@VMPATH"}}},
                {"listen": "@LISTEN", "port": @HTTPS, "protocol": "http",
                 "settings": {"accounts": [{"user": "sluice", "pass": "@PASSWORD"}]},
                 "streamSettings": {"network": "tcp", "security": "tls", "tlsSettings": @TLS}}
              ],
              "outbounds": [{"protocol": "freedom", "sendThrough": "@SOURCE"}]
            }
            """.Replace("@LISTEN", NamespaceTestbed.RouterV4).Replace("@TROJAN", V2rayTrojanPort.ToString()).Replace("@VLESS", V2rayVlessPort.ToString())
            .Replace("@WS", V2rayVlessWsPort.ToString()).Replace("@PASSWORD", Password).Replace("@UUID", Uuid).Replace("@TLS", tls)
            .Replace("@PATH", WsPath).Replace("@HTTPS", V2rayHttpsProxyPort.ToString()).Replace("@LOG", V2rayLogPath(testbed)).Replace("@SOURCE", V2raySource)
            .Replace("@VMESS", V2rayVmessPort.ToString()).Replace("@VMWS", V2rayVmessWsPort.ToString()).Replace("@VMPATH", VmessWsPath));
        testbed.StartIn(testbed.Router, "v2ray", "-config", config);
        foreach (int port in new[] { V2rayTrojanPort, V2rayVlessPort, V2rayVlessWsPort, V2rayHttpsProxyPort, V2rayVmessPort, V2rayVmessWsPort }) ProxyPeers.WaitListening(testbed, port);
    }

    public static string V2rayLogPath(NamespaceTestbed testbed) => Path.Combine(testbed.WorkDir, "v2ray.log");

    /// <summary>v2ray's log so far, for failure messages.</summary>
    public static string V2rayLog(NamespaceTestbed testbed) =>
        File.Exists(V2rayLogPath(testbed)) ? "v2ray:\n" + File.ReadAllText(V2rayLogPath(testbed)) : "";

    /// <summary>The "tls" object that trusts only the test CA.</summary>
    public static string Tls(TestCertificates certificates, string? serverName = TestCertificates.ServerName) =>
        $$"""{"enabled": true{{(serverName is null ? "" : $", \"server_name\": \"{serverName}\"")}}, "certificate_path": "{{certificates.CaPath}}"}""";

    public static string HttpsProxy(string tag, TestCertificates certificates, string password = Password) =>
        $$"""{"type": "http", "tag": "{{tag}}", "server": "{{NamespaceTestbed.RouterV4}}", "server_port": {{V2rayHttpsProxyPort}}, "username": "sluice", "password": "{{password}}", "tls": {{Tls(certificates)}}}""";

    public static string Trojan(string tag, TestCertificates certificates, int port = TrojanGfwPort, string password = Password, string extra = "") =>
        $$"""{"type": "trojan", "tag": "{{tag}}", "server": "{{NamespaceTestbed.RouterV4}}", "server_port": {{port}}, "password": "{{password}}", "tls": {{Tls(certificates)}}{{extra}}}""";

    /// <param name="earlyData">max_early_data in the Sec-WebSocket-Protocol header (0: none); v2ray 4.34 ignores it (4.37+ and Xray take it).</param>
    public static string Vless(string tag, TestCertificates certificates, bool ws = false, string uuid = Uuid, string extra = "", int earlyData = 0)
    {
        string early = earlyData > 0 ? $", \"max_early_data\": {earlyData}, \"early_data_header_name\": \"Sec-WebSocket-Protocol\"" : "";
        string transport = ws
            ? ", \"transport\": {\"type\": \"ws\", \"path\": \"" + WsPath + "\"" + early + "}"
            : "";
        return $$"""{"type": "vless", "tag": "{{tag}}", "server": "{{NamespaceTestbed.RouterV4}}", "server_port": {{(ws ? V2rayVlessWsPort : V2rayVlessPort)}}, "uuid": "{{uuid}}", "tls": {{Tls(certificates)}}{{transport}}{{extra}}}""";
    }

    /// <summary>A "vmess" outbound to v2ray: plain TCP, or WebSocket+TLS when <paramref name="ws"/>; <paramref name="extra"/> adds fields.</summary>
    public static string Vmess(string tag, TestCertificates certificates, bool ws = false, string uuid = Uuid, string extra = "")
    {
        string layers = ws ? $", \"tls\": {Tls(certificates)}, \"transport\": {{\"type\": \"ws\", \"path\": \"{VmessWsPath}\"}}" : "";
        return $$"""{"type": "vmess", "tag": "{{tag}}", "server": "{{NamespaceTestbed.RouterV4}}", "server_port": {{(ws ? V2rayVmessWsPort : V2rayVmessPort)}}, "uuid": "{{uuid}}"{{layers}}{{extra}}}""";
    }
}
