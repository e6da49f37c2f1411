using System.Text.Json.Nodes;
using Sluice.Core.Configuration;
using Sluice.Core.Importing;

namespace Sluice.Core.Tests.Importing;

/// <summary>
/// Fields of a Clash/mihomo proxy that change where its traffic goes or how it is protected: carried over when
/// Sluice has them, otherwise the proxy is left out with a note naming the field (the rest still imports).
/// </summary>
public sealed class ClashYamlProxyFieldsTests
{
    private const string Uuid = "bf000d23-0752-40b4-affe-68f7707a9661";

    private static JsonObject Only(string proxies)
    {
        var result = ClashYaml.Parse("proxies:\n" + proxies, "c.yaml");
        Assert.Empty(result.Notes);
        return Assert.Single(result.Outbounds);
    }

    /// <summary>mihomo's YAML reads True and TRUE as true: a "tls: True" VLESS server must not be imported as plaintext.</summary>
    [Fact]
    public void CapitalisedBooleans_AreTrue()
    {
        var o = Only($"  - {{name: v, type: vless, server: v.example, port: 443, uuid: {Uuid}, tls: True, skip-cert-verify: TRUE, udp: False}}\n");
        Assert.Equal(true, (bool?)o["tls"]!["enabled"]);
        Assert.Equal(true, (bool?)o["tls"]!["insecure"]);
        Assert.Equal("tcp", (string?)o["network"]);
    }

    [Theory]
    [InlineData("{name: s, type: ss, server: s.example, port: 8388, cipher: aes-128-gcm, password: p, udp-over-tcp: true}", "udp-over-tcp")]
    [InlineData("{name: s, type: trojan, server: t.example, port: 443, password: p, smux: {enabled: true, protocol: h2mux}}", "smux (multiplexing)")]
    [InlineData("{name: s, type: trojan, server: t.example, port: 443, password: p, ech-opts: {enable: true}}", "ech-opts")]
    [InlineData("{name: s, type: trojan, server: t.example, port: 443, password: p, skip-cert-verify: true, fingerprint: 5f0e4c8f2a}", "fingerprint (a pinned certificate hash)")]
    [InlineData("{name: s, type: trojan, server: t.example, port: 443, password: p, ss-opts: {enabled: true, method: aes-128-gcm, password: x}}", "ss-opts")]
    [InlineData($"{{name: s, type: vless, server: v.example, port: 443, uuid: {Uuid}, tls: true, encryption: mlkem768x25519plus.native.0rtt.x}}", "encryption")]
    [InlineData($"{{name: s, type: vless, server: v.example, port: 443, uuid: {Uuid}, tls: true, network: http, http-opts: {{path: [/]}}}}", "HTTP-header obfuscation over plain TCP")]
    [InlineData($"{{name: s, type: vmess, server: v.example, port: 443, uuid: {Uuid}, network: kcp}}", "network \"kcp\" is not supported (tcp, ws, grpc, h2)")]
    [InlineData("{name: s, type: ss, server: s.example, port: 443, cipher: aes-128-gcm, password: p, plugin: v2ray-plugin, plugin-opts: {mode: websocket, v2ray-http-upgrade: true}}", "v2ray-http-upgrade")]
    public void AFieldSluiceCannotHonour_LeavesThatProxyOut_WithANoteNamingIt(string proxy, string field)
    {
        var result = ClashYaml.Parse($"proxies:\n  - {proxy}\n  - {{name: ok, type: socks5, server: 10.0.0.1, port: 1080}}\n", "c.yaml");
        Assert.Equal("ok", (string?)Assert.Single(result.Outbounds)["tag"]);
        Assert.Contains(field, Assert.Single(result.Notes));
        Assert.Contains("\"s\" skipped", result.Notes[0]);
        Assert.StartsWith("c.yaml: line 2:", result.Notes[0], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData($"{{name: g, type: vless, server: v.example, port: 443, uuid: {Uuid}, tls: true, network: grpc, grpc-opts: {{grpc-service-name: Svc}}}}",
        """{"type":"grpc","service_name":"Svc"}""")]
    [InlineData("{name: g, type: trojan, server: t.example, port: 443, password: p, network: h2, h2-opts: {host: [a.example, b.example], path: /h2}}",
        """{"type":"http","host":["a.example","b.example"],"path":"/h2"}""")]
    [InlineData($"{{name: g, type: vmess, server: v.example, port: 443, uuid: {Uuid}, tls: true, network: h2}}", """{"type":"http","path":"/"}""")]
    [InlineData($"{{name: g, type: vless, server: v.example, port: 443, uuid: {Uuid}, tls: true, network: ws, ws-opts: {{path: /up, v2ray-http-upgrade: true, headers: {{Host: cdn.example, X-A: b}}}}}}",
        """{"type":"httpupgrade","host":"cdn.example","path":"/up","headers":{"X-A":"b"}}""")]
    public void TransportNetworks_ImportAsSingBoxTransports(string proxy, string transport)
    {
        var o = Only($"  - {proxy}\n");

        Assert.Equal(transport, o["transport"]!.ToJsonString());
        Assert.Empty(ConfigLoader.Validate($$"""{"outbounds":[{{o.ToJsonString()}}]}"""));
    }

    /// <summary>Switched off, the same fields change nothing and the proxy imports.</summary>
    [Fact]
    public void TheSameFieldsSwitchedOff_Import()
    {
        var o = Only("  - {name: t, type: trojan, server: t.example, port: 443, password: p, smux: {enabled: false}, ech-opts: {enable: false}, udp-over-tcp: false, fingerprint: ''}\n");
        Assert.Equal("trojan", (string?)o["type"]);
    }

    /// <summary>mihomo reads "/path?ed=N" as N bytes of early data in Sec-WebSocket-Protocol, not as part of the path.</summary>
    [Fact]
    public void WebSocketPathWithEd_BecomesEarlyData()
    {
        var o = Only($"  - {{name: w, type: vless, server: v.example, port: 443, uuid: {Uuid}, tls: true, network: ws, ws-opts: {{path: /vl?ed=2048}}}}\n");
        Assert.Equal("/vl", (string?)o["transport"]!["path"]);
        Assert.Equal(2048, (int?)o["transport"]!["max_early_data"]);
        Assert.Equal("Sec-WebSocket-Protocol", (string?)o["transport"]!["early_data_header_name"]);
    }

    [Fact]
    public void InterfaceNameRoutingMarkAndIpVersion_OfOneProxy_BecomeItsDialFields()
    {
        var o = Only("  - {name: h, type: http, server: proxy.example, port: 3128, interface-name: eth1, routing-mark: 1234, ip-version: ipv6}\n");
        Assert.Equal("eth1", (string?)o["bind_interface"]);
        Assert.Equal(1234u, (uint?)o["routing_mark"]);
        Assert.Equal("ipv6_only", (string?)o["domain_strategy"]);
        Assert.Empty(ConfigLoader.Validate($$"""{"outbounds": [{{o.ToJsonString()}}]}"""));
    }

    /// <summary>dialer-proxy chains the proxy through another (sing-box's detour); one naming nothing imported is left out.</summary>
    [Fact]
    public void DialerProxy_BecomesTheDetour_AndAnUnknownOneLeavesTheProxyOut()
    {
        const string Yaml = """
            proxies:
              - {name: "🇯🇵 entry", type: ss, server: 198.51.100.7, port: 8388, cipher: aes-128-gcm, password: p}
              - {name: exit, type: socks5, server: 10.0.0.1, port: 1080, dialer-proxy: "🇯🇵 entry"}
              - {name: via-group, type: socks5, server: 10.0.0.2, port: 1080, dialer-proxy: Relay}
              - {name: lost, type: socks5, server: 10.0.0.3, port: 1080, dialer-proxy: vmess-hop}
              - {name: after-lost, type: socks5, server: 10.0.0.4, port: 1080, dialer-proxy: lost}
            proxy-groups:
              - {name: Relay, type: select, proxies: ["🇯🇵 entry"]}
            """;
        var sub = ClashYaml.Parse(Yaml, "c.yaml");
        Assert.Equal(["🇯🇵 entry", "exit"], sub.Outbounds.Select(o => (string)o["tag"]!).ToArray());
        Assert.Equal("🇯🇵 entry", (string?)sub.Outbounds[1]["detour"]);
        Assert.Equal(3, sub.Notes.Count);
        Assert.Contains(sub.Notes, n => n.Contains("\"lost\" skipped: its dialer-proxy \"vmess-hop\"", StringComparison.Ordinal));

        // A whole config also imports its groups, so a dialer-proxy may name one.
        var config = ClashYaml.ParseConfig(Yaml, "c.yaml");
        var loaded = ConfigLoader.Load(config.Json);
        Assert.Equal("Relay", ProxyServerOptions.Of(loaded.Outbounds.Single(o => o.Tag == "via-group"))!.Detour);
        Assert.DoesNotContain(loaded.Outbounds, o => o.Tag is "lost" or "after-lost");
    }
}
