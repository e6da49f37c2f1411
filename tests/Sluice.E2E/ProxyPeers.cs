using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// Independent proxy servers in the router namespace, listening on <see cref="NamespaceTestbed.RouterV4"/>:
/// shadowsocks-libev <c>ss-server</c> (one per method, TCP+UDP), <c>microsocks</c> (SOCKS5 with
/// user/password, CONNECT only), <c>danted</c> (SOCKS5 without auth, CONNECT + UDP ASSOCIATE) and
/// <c>tinyproxy</c> (HTTP CONNECT with basic auth). Each is started on demand and killed with the testbed.
/// </summary>
internal static class ProxyPeers
{
    public const string Password = "sluice-test-password";
    public const string User = "sluice";
    public const int MicrosocksPort = 1080;
    public const int DantePort = 1081;
    public const int TinyproxyPort = 3128;

    public static int ShadowsocksPort(string method) => method switch
    {
        "aes-128-gcm" => 8381,
        "aes-256-gcm" => 8382,
        "chacha20-ietf-poly1305" => 8383,
        "aes-192-gcm" => 8384,
        _ => throw new ArgumentException(method),
    };

    /// <param name="ns">The namespace to run in (the router's unless given).</param>
    public static System.Diagnostics.Process StartShadowsocks(NamespaceTestbed testbed, string method, int? port = null, string? address = null, string? ns = null)
    {
        int p = port ?? ShadowsocksPort(method);
        var process = testbed.StartIn(ns ?? testbed.Router, "ss-server", "-s", address ?? NamespaceTestbed.RouterV4, "-p", p.ToString(), "-k", Password,
            "-m", method, "-u", "--no-delay", "-t", "60");
        WaitListening(testbed, p, ns);
        return process;
    }

    public static void StartMicrosocks(NamespaceTestbed testbed)
    {
        testbed.StartIn(testbed.Router, "microsocks", "-i", NamespaceTestbed.RouterV4, "-p", MicrosocksPort.ToString(), "-u", User, "-P", Password);
        WaitListening(testbed, MicrosocksPort);
    }

    public static void StartDante(NamespaceTestbed testbed)
    {
        string config = Path.Combine(testbed.WorkDir, "danted.conf");
        File.WriteAllText(config, $$"""
            logoutput: stderr
            internal: {{NamespaceTestbed.RouterV4}} port = {{DantePort}}
            external: {{NamespaceTestbed.RouterV4}}
            socksmethod: none
            clientmethod: none
            user.privileged: root
            user.unprivileged: nobody
            client pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }
            socks pass { from: 0.0.0.0/0 to: 0.0.0.0/0 command: connect udpassociate udpreply }
            """);
        testbed.StartIn(testbed.Router, "danted", "-f", config, "-p", Path.Combine(testbed.WorkDir, "danted.pid"));
        WaitListening(testbed, DantePort);
    }

    public static void StartTinyproxy(NamespaceTestbed testbed)
    {
        string config = Path.Combine(testbed.WorkDir, "tinyproxy.conf");
        File.WriteAllText(config, $"""
            User nobody
            Group nogroup
            Port {TinyproxyPort}
            Listen {NamespaceTestbed.RouterV4}
            Timeout 120
            MaxClients 200
            BasicAuth {User} {Password}
            LogLevel Warning
            """);
        testbed.StartIn(testbed.Router, "tinyproxy", "-d", "-c", config);
        WaitListening(testbed, TinyproxyPort);
    }

    /// <summary>Waits until something listens on the TCP port in the router namespace (or <paramref name="ns"/>).</summary>
    public static void WaitListening(NamespaceTestbed testbed, int port, string? ns = null)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (DateTime.UtcNow < deadline)
        {
            var r = Exec.Run(TimeSpan.FromSeconds(5), "ip", "netns", "exec", ns ?? testbed.Router, "sh", "-c", $"ss -Hltn 'sport = :{port}' | grep -q LISTEN");
            if (r.Ok) return;
            Thread.Sleep(100);
        }
        throw new InvalidOperationException($"nothing listens on port {port} in namespace {ns ?? testbed.Router} after 15 s");
    }

    public static string Shadowsocks(string tag, string method, string password = Password, int? port = null, string server = NamespaceTestbed.RouterV4) =>
        $$"""{"type": "shadowsocks", "tag": "{{tag}}", "server": "{{server}}", "server_port": {{port ?? ShadowsocksPort(method)}}, "method": "{{method}}", "password": "{{password}}"}""";

    public static string Socks(string tag, int port, string? user = null, string? password = null) =>
        $$"""{"type": "socks", "tag": "{{tag}}", "server": "{{NamespaceTestbed.RouterV4}}", "server_port": {{port}}{{(user is null ? "" : $", \"username\": \"{user}\", \"password\": \"{password}\"")}}}""";

    public static string Http(string tag, string? user = User, string? password = Password) =>
        $$"""{"type": "http", "tag": "{{tag}}", "server": "{{NamespaceTestbed.RouterV4}}", "server_port": {{TinyproxyPort}}{{(user is null ? "" : $", \"username\": \"{user}\", \"password\": \"{password}\"")}}}""";

    /// <summary>A TUN config whose final outbound is <paramref name="final"/>, with extra outbounds and rules.</summary>
    public static string TunConfig(string outbounds, string final, string rules = "") => $$"""
        {
          "log": {"level": "info"},
          "inbounds": [{
            "type": "tun", "tag": "tun-in", "interface_name": "sluice0",
            "address": ["172.19.0.1/30", "fdfe:dcba:9876::1/126"], "auto_route": true
          }],
          "outbounds": [{"type": "direct", "tag": "direct"}, {{outbounds}}],
          "route": {"rules": [{{rules}}], "final": "{{final}}"}
        }
        """;

    public static string HiddenUrl(string path = "whoami") => $"http://{NamespaceTestbed.HiddenV4}:{NamespaceTestbed.HttpPort}/{path}";

    /// <summary>Writes a 100 MiB random file to the HTTP server's folder; returns its SHA-256 (hex).</summary>
    public static string WriteBlob(NamespaceTestbed testbed, string name = "blob.bin")
    {
        var data = new byte[100 * 1024 * 1024];
        new Random(2026).NextBytes(data);
        File.WriteAllBytes(Path.Combine(testbed.WwwDir, name), data);
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(data));
    }
}
