using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>Configs the end-to-end tests run: a TUN with auto_route in the client namespace, plus rules.</summary>
internal static class EngineConfigs
{
    public const string TunV4 = "172.19.0.1";

    public static string Tun(string rules = "", string extraTun = "", string final = "direct") => $$"""
        {
          "log": {"level": "info"},
          "inbounds": [{
            "type": "tun", "tag": "tun-in", "interface_name": "sluice0",
            "address": ["172.19.0.1/30", "fdfe:dcba:9876::1/126"],
            "auto_route": true{{extraTun}}
          }],
          "outbounds": [{"type": "direct", "tag": "direct"}, {"type": "block", "tag": "block"}],
          "route": {"rules": [{{rules}}], "final": "{{final}}"}
        }
        """;

    public static string ServerUrl(string path = "whoami", bool v6 = false) => v6
        ? $"http://[{NamespaceTestbed.ServerV6}]:{NamespaceTestbed.HttpPort}/{path}"
        : $"http://{NamespaceTestbed.ServerV4}:{NamespaceTestbed.HttpPort}/{path}";
}
