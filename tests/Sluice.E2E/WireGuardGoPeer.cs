using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// An independent WireGuard peer: Debian's wireguard-go in the router namespace, configured with `wg`.
/// Tunnel 10.66.0.0/24 and fd66::/64; the router end is .1 / ::1, Sluice's end .2 / ::2.
/// Its interface name is unique per testbed because wireguard-go's control socket lives in the shared
/// /var/run/wireguard.
/// </summary>
internal sealed class WireGuardGoPeer
{
    public const string RouterTunnelV4 = "10.66.0.1";
    public const string RouterTunnelV6 = "fd66::1";
    public const string SluiceTunnelV4 = "10.66.0.2";
    public const string SluiceTunnelV6 = "fd66::2";
    public const int ListenPort = 51820;

    private static int _counter;

    private WireGuardGoPeer(NamespaceTestbed testbed, string name)
    {
        Testbed = testbed;
        Name = name;
    }

    public NamespaceTestbed Testbed { get; }

    public string Name { get; }

    public string PrivateKey { get; private set; } = "";

    public string PublicKey { get; private set; } = "";

    public static (string Private, string Public) GenerateKeys()
    {
        string priv = Exec.Check("wg", "genkey").Trim();
        var pub = Exec.Start(["wg", "pubkey"], redirectInput: true);
        pub.StandardInput.WriteLine(priv);
        pub.StandardInput.Close();
        string publicKey = pub.StandardOutput.ReadToEnd().Trim();
        pub.WaitForExit();
        return (priv, publicKey);
    }

    /// <summary>Starts wireguard-go and gives it Sluice's public key as its one peer.</summary>
    public static WireGuardGoPeer Start(NamespaceTestbed testbed, string sluicePublicKey, string? sluiceEndpoint = null, int keepalive = 0)
    {
        string name = $"wgt{Environment.ProcessId % 10000}x{Interlocked.Increment(ref _counter)}";
        var peer = new WireGuardGoPeer(testbed, name);
        (peer.PrivateKey, peer.PublicKey) = GenerateKeys();
        var process = testbed.StartIn(testbed.Router, "env", "WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1", "wireguard-go", "-f", name);
        // /run is not per namespace: a killed wireguard-go leaves its UAPI socket on the host.
        testbed.RemoveAtDispose($"/run/wireguard/{name}.sock");
        for (int i = 0; i < 50 && testbed.RunInRouter(TimeSpan.FromSeconds(5), "ip", "link", "show", name).ExitCode != 0; i++)
        {
            if (process.HasExited) throw new InvalidOperationException($"wireguard-go exited: {process.StandardError.ReadToEnd()}");
            Thread.Sleep(100);
        }
        string keyFile = Path.Combine(testbed.WorkDir, name + ".key");
        File.WriteAllText(keyFile, peer.PrivateKey + "\n");
        var set = new List<string> { "wg", "set", name, "private-key", keyFile, "listen-port", ListenPort.ToString(),
            "peer", sluicePublicKey, "allowed-ips", $"{SluiceTunnelV4}/32,{SluiceTunnelV6}/128" };
        if (sluiceEndpoint is not null) set.AddRange(["endpoint", sluiceEndpoint]);
        if (keepalive > 0) set.AddRange(["persistent-keepalive", keepalive.ToString()]);
        Check(testbed.RunInRouter(TimeSpan.FromSeconds(10), [.. set]));
        Check(testbed.RunInRouter(TimeSpan.FromSeconds(5), "ip", "addr", "add", RouterTunnelV4 + "/24", "dev", name));
        Check(testbed.RunInRouter(TimeSpan.FromSeconds(5), "ip", "addr", "add", RouterTunnelV6 + "/64", "dev", name, "nodad"));
        Check(testbed.RunInRouter(TimeSpan.FromSeconds(5), "ip", "link", "set", name, "mtu", "1420", "up"));
        return peer;
    }

    /// <summary>`wg show NAME latest-handshakes` etc., for assertions.</summary>
    public string Show(string what) => Testbed.RunInRouter(TimeSpan.FromSeconds(5), "wg", "show", Name, what).Stdout;

    private static void Check(ExecResult result)
    {
        if (!result.Ok) throw new InvalidOperationException(result.ToString());
    }

    /// <summary>A Sluice config with a TUN and this peer as a WireGuard endpoint tagged "wg".</summary>
    public string SluiceConfig(string sluicePrivateKey, string rules, string final = "direct", bool sluiceInitiates = true, int? listenPort = null) => $$"""
        {
          "log": {"level": "info"},
          "inbounds": [{"type": "tun", "address": ["172.19.0.1/30", "fdfe:dcba:9876::1/126"], "auto_route": true}],
          "endpoints": [{
            "type": "wireguard", "tag": "wg",
            "address": ["{{SluiceTunnelV4}}/32", "{{SluiceTunnelV6}}/128"],
            "private_key": "{{sluicePrivateKey}}",
            {{(listenPort is { } port ? $"\"listen_port\": {port}," : "")}}
            "mtu": 1420,
            "peers": [{
              {{(sluiceInitiates ? $"\"address\": \"{NamespaceTestbed.RouterV4}\", \"port\": {ListenPort}," : "")}}
              "public_key": "{{PublicKey}}",
              "allowed_ips": ["0.0.0.0/0", "::/0"]
            }]
          }],
          "outbounds": [{"type": "direct", "tag": "direct"}],
          "route": {"rules": [{{rules}}], "final": "{{final}}"}
        }
        """;
}
