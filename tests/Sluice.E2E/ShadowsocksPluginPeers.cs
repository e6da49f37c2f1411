using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// shadowsocks-libev's <c>ss-server</c> behind Debian's SIP003 plugin servers in the router namespace:
/// simple-obfs' <c>obfs-server</c> (obfs=http, obfs=tls) and <c>ss-v2ray-plugin</c> (websocket, plain
/// or TLS with a test CA made here). ss-server starts the plugin on the public port and listens on a
/// loopback port itself; its UDP relay stays on the public port (the plugins carry TCP only).
/// </summary>
internal static class ShadowsocksPluginPeers
{
    public const string Method = "chacha20-ietf-poly1305";
    public const int ObfsHttpPort = 8391;
    public const int ObfsTlsPort = 8392;
    public const int V2RayPort = 8393;
    public const int V2RayTlsPort = 8394;
    public const int XChaChaPort = 8395;
    public const string PluginHost = "cdn.sluice.test";
    public const string WsPath = "/sluice-ws";

    public static void StartXChaCha(NamespaceTestbed testbed) =>
        ProxyPeers.StartShadowsocks(testbed, "xchacha20-ietf-poly1305", port: XChaChaPort);

    public static void StartObfs(NamespaceTestbed testbed, bool tls)
    {
        int port = tls ? ObfsTlsPort : ObfsHttpPort;
        StartWithPlugin(testbed, port, "obfs-server", $"obfs={(tls ? "tls" : "http")}");
    }

    /// <returns>With TLS: the path of the CA certificate that signed the server's (for "cert=").</returns>
    public static string? StartV2Ray(NamespaceTestbed testbed, bool tls)
    {
        if (!tls)
        {
            StartWithPlugin(testbed, V2RayPort, "ss-v2ray-plugin", $"server;host={PluginHost};path={WsPath}");
            return null;
        }
        var (ca, cert, key) = MakeCertificates(testbed);
        StartWithPlugin(testbed, V2RayTlsPort, "ss-v2ray-plugin", $"server;tls;host={PluginHost};path={WsPath};cert={cert};key={key}");
        return ca;
    }

    private static void StartWithPlugin(NamespaceTestbed testbed, int port, string plugin, string opts)
    {
        testbed.StartIn(testbed.Router, "ss-server", "-s", NamespaceTestbed.RouterV4, "-p", port.ToString(), "-k", ProxyPeers.Password,
            "-m", Method, "-u", "--no-delay", "-t", "60", "--plugin", plugin, "--plugin-opts", opts);
        ProxyPeers.WaitListening(testbed, port);
    }

    /// <summary>A test CA and a server certificate for <see cref="PluginHost"/> signed by it (openssl, in the testbed's folder).</summary>
    private static (string Ca, string Cert, string Key) MakeCertificates(NamespaceTestbed testbed)
    {
        string dir = testbed.WorkDir;
        string ca = Path.Combine(dir, "ca.pem"), caKey = Path.Combine(dir, "ca.key");
        string cert = Path.Combine(dir, "server.pem"), key = Path.Combine(dir, "server.key"), csr = Path.Combine(dir, "server.csr");
        string ext = Path.Combine(dir, "server.ext");
        File.WriteAllText(ext, $"subjectAltName=DNS:{PluginHost}\n");
        Run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", caKey, "-out", ca,
            "-days", "2", "-subj", "/CN=Sluice test CA");
        Run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", csr, "-subj", $"/CN={PluginHost}");
        Run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext);
        return (ca, cert, key);
    }

    private static void Run(params string[] argv)
    {
        var result = Exec.Run(TimeSpan.FromSeconds(30), argv);
        if (!result.Ok) throw new InvalidOperationException(result.ToString());
    }

    public static string Outbound(string tag, int port, string? plugin = null, string? opts = null, string method = Method) =>
        $$"""{"type": "shadowsocks", "tag": "{{tag}}", "server": "{{NamespaceTestbed.RouterV4}}", "server_port": {{port}}, "method": "{{method}}", "password": "{{ProxyPeers.Password}}"{{(plugin is null ? "" : $", \"plugin\": \"{plugin}\", \"plugin_opts\": \"{opts}\"")}}}""";

    public static string MixedConfig(string outbound, int mixedPort) => $$"""
        {
          "log": {"level": "info"},
          "inbounds": [{"type": "mixed", "tag": "mixed-in", "listen": "127.0.0.1", "listen_port": {{mixedPort}}}],
          "outbounds": [{{outbound}}, {"type": "direct", "tag": "direct"}],
          "route": {"final": "ss"}
        }
        """;
}
