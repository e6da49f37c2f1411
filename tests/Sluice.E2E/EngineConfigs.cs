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

/// <summary>Interface byte and packet counters: proof that a transfer crossed the TUN (or a WireGuard peer), not a path around it.</summary>
internal static class LaneCounters
{
    public readonly record struct Counters(long Bytes, long Packets)
    {
        public static Counters operator -(Counters after, Counters before) => new(after.Bytes - before.Bytes, after.Packets - before.Packets);
    }

    /// <summary>Received plus sent on an interface of a namespace (`ip -s -j link`).</summary>
    public static Counters Of(string ns, string device = "sluice0")
    {
        var result = Exec.Run(TimeSpan.FromSeconds(10), "ip", "-n", ns, "-s", "-j", "link", "show", "dev", device);
        if (!result.Ok) throw new InvalidOperationException($"no counters for {device} in {ns}: {result}");
        using var json = System.Text.Json.JsonDocument.Parse(result.Stdout);
        var stats = json.RootElement[0].GetProperty("stats64");
        long Get(string way, string what) => stats.GetProperty(way).GetProperty(what).GetInt64();
        return new(Get("rx", "bytes") + Get("tx", "bytes"), Get("rx", "packets") + Get("tx", "packets"));
    }

    /// <summary>Bytes received plus sent by wireguard-go's one peer (`wg show IF transfer`).</summary>
    public static long WireGuardPeerBytes(WireGuardGoPeer peer)
    {
        string line = peer.Show("transfer").Trim();
        var parts = line.Split('\t', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length < 3) throw new InvalidOperationException($"wg show transfer gave \"{line}\"");
        return long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture);
    }
}
