using System.Text;
using System.Text.Json.Nodes;
using Sluice.Core.Configuration;
using Sluice.Core.Importing;
using Sluice.Core.Outbounds.WireGuard;

namespace Sluice.Core.Tests.Importing;

public sealed class VlessTrojanLinksTests
{
    private const string Uuid = "b831381d-6324-4d53-ad4f-8cda48b30811";

    [Theory]
    [InlineData($"vless://{Uuid}@vl.example:443?encryption=none&security=tls&sni=cdn.example&alpn=h2%2Chttp%2F1.1&fp=chrome&type=ws&path=%2Fws&host=cdn.example&ed=2048&eh=Sec-WebSocket-Protocol#VL%201")]
    [InlineData($"vless://{Uuid}@[2001:db8::1]:8443?security=tls&packetEncoding=none#v6")]
    [InlineData("trojan://p%40ss%3Aword@198.51.100.7:443?sni=tj.example&allowInsecure=1#TJ")]
    [InlineData("trojan://pw@tj.example:443?security=tls&type=ws&path=%2Ftj%3Fed%3D2560#early")]
    [InlineData($"vless://{Uuid}@vl.example:443?security=tls&sni=vl.example&type=grpc&serviceName=TunService&mode=gun#grpc")]
    [InlineData("trojan://pw@tj.example:443?sni=tj.example&type=grpc&serviceName=gun.svc#trojan-grpc")]
    [InlineData($"vless://{Uuid}@vl.example:443?security=tls&type=http&host=a.example%2Cb.example&path=%2Fh2#h2")]
    [InlineData($"vless://{Uuid}@vl.example:443?security=tls&type=h2&host=a.example&path=%2Fh2#h2-alias")]
    [InlineData("trojan://pw@tj.example:443?type=http#h2-defaults")]
    [InlineData($"vless://{Uuid}@vl.example:443?security=tls&type=httpupgrade&host=cdn.example&path=%2Fup#upgrade")]
    [InlineData($"vless://{Uuid}@vl.example:80?security=none&type=httpupgrade#upgrade-defaults")]
    [InlineData($"vless://{Uuid}@203.0.113.10:443?encryption=none&flow=xtls-rprx-vision&security=reality&sni=www.example.com&fp=chrome&pbk=jNXHt1yRo0vDuchQlIP6Z0ZvjT3KtzVI-T4E7RoLJS0&sid=0123abcd&type=tcp&headerType=none#HK%20Reality")]
    public void Link_WrittenBack_ReimportsToTheSameOutbound(string link)
    {
        var first = ShareLinks.Parse(link, "x");
        string written = ShareLinkWriter.Write(first)!;
        var second = ShareLinks.Parse(written, "y");

        Assert.True(JsonNode.DeepEquals(first, second), $"{first.ToJsonString()}\n{written}\n{second.ToJsonString()}");
        // And what it imports is a valid config.
        Assert.Empty(ConfigLoader.Validate($$"""{"outbounds":[{{first.ToJsonString()}}]}"""));
    }

    [Fact]
    public void TransportLinks_ImportAsSingBoxTransports()
    {
        var grpc = ShareLinks.Parse($"vless://{Uuid}@v.example:443?security=tls&type=grpc&serviceName=Svc&mode=gun", "g");
        var h2 = ShareLinks.Parse($"vless://{Uuid}@v.example:443?security=tls&type=h2&host=a.example,b.example&path=/p", "h");
        var up = ShareLinks.Parse($"vless://{Uuid}@v.example:443?security=tls&type=httpupgrade&host=cdn.example&path=/u", "u");

        Assert.Equal("""{"type":"grpc","service_name":"Svc"}""", grpc["transport"]!.ToJsonString());
        Assert.Equal("""{"type":"http","host":["a.example","b.example"],"path":"/p"}""", h2["transport"]!.ToJsonString());
        Assert.Equal("""{"type":"httpupgrade","host":"cdn.example","path":"/u"}""", up["transport"]!.ToJsonString());
    }

    /// <summary>Xray's grpc multi mode has no sing-box form: the link imports as gun, and the subscription's notes say so by line.</summary>
    [Fact]
    public void GrpcMultiMode_ImportsAsGun_WithANoteNamingTheLine()
    {
        string body = $"trojan://pw@t.example:443#first\nvless://{Uuid}@v.example:443?security=tls&type=grpc&serviceName=S&mode=multi#multi\n";

        var result = SubscriptionBody.Parse(body, "sub");

        Assert.Equal(2, result.Outbounds.Count);
        Assert.Equal("grpc", (string?)result.Outbounds[1]["transport"]!["type"]);
        var note = Assert.Single(result.Notes);
        Assert.StartsWith("sub: line 2: grpc mode=multi", note, StringComparison.Ordinal);
    }

    /// <summary>The link most VLESS providers hand out today: Reality with Vision.</summary>
    [Fact]
    public void RealityVisionLink_BecomesAVisionOutbound_WithRealityTls()
    {
        var o = ShareLinks.Parse($"vless://{Uuid}@203.0.113.10:443?encryption=none&flow=xtls-rprx-vision&security=reality&sni=www.example.com&fp=chrome"
            + "&pbk=jNXHt1yRo0vDuchQlIP6Z0ZvjT3KtzVI-T4E7RoLJS0&sid=0123abcd&type=tcp&headerType=none#HK", "x");

        Assert.Equal("xtls-rprx-vision", (string?)o["flow"]);
        Assert.Equal("jNXHt1yRo0vDuchQlIP6Z0ZvjT3KtzVI-T4E7RoLJS0", (string?)o["tls"]!["reality"]!["public_key"]);
        Assert.Equal("0123abcd", (string?)o["tls"]!["reality"]!["short_id"]);
        Assert.Equal("www.example.com", (string?)o["tls"]!["server_name"]);
        var config = ConfigLoader.Load($$"""{"outbounds":[{{o.ToJsonString()}}]}""");
        Assert.Equal("xtls-rprx-vision", Assert.IsType<Sluice.Core.Outbounds.Vless.VlessOutboundOptions>(config.Outbounds[0]).Flow);
    }

    [Fact]
    public void ClashRealityVisionEntry_BecomesAVisionOutbound()
    {
        string yaml = $"""
            proxies:
              - name: rv
                type: vless
                server: 203.0.113.10
                port: 443
                uuid: {Uuid}
                network: tcp
                tls: true
                udp: true
                flow: xtls-rprx-vision
                servername: www.example.com
                client-fingerprint: chrome
                reality-opts:
                  public-key: jNXHt1yRo0vDuchQlIP6Z0ZvjT3KtzVI-T4E7RoLJS0
                  short-id: 0123abcd
            """;

        var o = Assert.Single(ClashYaml.Parse(yaml, "clash.yaml").Outbounds);

        Assert.Equal("xtls-rprx-vision", (string?)o["flow"]);
        Assert.True((bool?)o["tls"]!["reality"]!["enabled"]);
        Assert.Empty(ConfigLoader.Validate($$"""{"outbounds":[{{o.ToJsonString()}}]}"""));
    }

    [Fact]
    public void VlessLink_BecomesVlessOutbound_WithTlsAndWs()
    {
        var o = ShareLinks.Parse($"vless://{Uuid}@vl.example:443?security=tls&sni=cdn.example&type=ws&path=%2Fws%3Fed%3D2048&host=cdn.example#Tokyo", "x");

        Assert.Equal("vless", (string?)o["type"]);
        Assert.Equal("Tokyo", (string?)o["tag"]);
        Assert.Equal("cdn.example", (string?)o["tls"]!["server_name"]);
        Assert.Equal("/ws", (string?)o["transport"]!["path"]);
        Assert.Equal(2048, (int?)o["transport"]!["max_early_data"]);
        Assert.Equal("cdn.example", (string?)o["transport"]!["headers"]!["Host"]);
    }

    [Theory]
    [InlineData("trojan://pw@198.51.100.9:443?peer=cdn.example&allowInsecure=1#old", "cdn.example")]
    [InlineData("trojan://pw@198.51.100.9:443?sni=real.example&peer=cdn.example#both", "real.example")]
    public void TrojanLink_TakesTheOlderPeerField_AsTheServerName_WhenSniIsAbsent(string link, string serverName)
    {
        var o = ShareLinks.Parse(link, "x");

        Assert.Equal(serverName, (string?)o["tls"]!["server_name"]);
    }

    [Theory]
    [InlineData("vless://not-a-uuid-and-longer-than-thirty-bytes-xxxx@h.example:443", "user id")]
    [InlineData($"vless://{Uuid}@h.example:99999", "port")]
    [InlineData($"vless://{Uuid}@h.example:443?security=xtls", "security")]
    [InlineData($"vless://{Uuid}@h.example:443?type=kcp", "type \"kcp\" is not supported (tcp, ws, grpc, http, h2, httpupgrade)")]
    [InlineData($"vless://{Uuid}@h.example:443?type=quic", "type \"quic\"")]
    [InlineData($"vless://{Uuid}@h.example:443?type=grpc&mode=tun", "grpc mode \"tun\"")]
    [InlineData($"vless://{Uuid}@h.example:443?flow=xtls-rprx-vision-udp443&security=tls", "flow \"xtls-rprx-vision-udp443\" is Xray's variant")]
    [InlineData($"vless://{Uuid}@h.example:443?flow=xtls-rprx-direct&security=tls", "flow \"xtls-rprx-direct\" is not supported")]
    [InlineData("trojan://secret-pw@", "host:port")]
    public void MalformedLink_NamesThePart_WithoutTheSecret(string link, string part)
    {
        var e = Assert.Throws<ImportException>(() => ShareLinks.Parse(link, "x"));

        Assert.Contains(part, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret-pw", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Uuid, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("not-a-uuid", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Subscription_ReportsUnusableSchemesByLine_AndKeepsTheRest()
    {
        string body = string.Join('\n', $"vless://{Uuid}@vl.example:443?security=tls#A", "vmess://eyJ2IjoiMiJ9", "trojan://pw@tj.example:443#B",
            "hysteria2://pw@hy.example:443#C", "tuic://id:pw@tu.example:443#D");

        var result = SubscriptionBody.Parse(Convert.ToBase64String(Encoding.UTF8.GetBytes(body)), "sub");

        Assert.Equal(["A", "B"], result.Outbounds.Select(o => (string?)o["tag"]));
        Assert.Equal(3, result.Notes.Count);
        Assert.Contains("line 2", result.Notes[0], StringComparison.Ordinal);
        Assert.Contains("vmess://", result.Notes[0], StringComparison.Ordinal);
        Assert.Contains("line 4", result.Notes[1], StringComparison.Ordinal);
        Assert.Contains("hysteria2://", result.Notes[1], StringComparison.Ordinal);
        Assert.Contains("tuic://", result.Notes[2], StringComparison.Ordinal);
    }

    [Fact]
    public void ClashVlessAndTrojan_WithWsOpts_BecomeOutbounds()
    {
        string yaml = $"""
            proxies:
              - name: vl
                type: vless
                server: vl.example
                port: 443
                uuid: {Uuid}
                tls: true
                servername: cdn.example
                client-fingerprint: chrome
                network: ws
                ws-opts:
                  path: /ws
                  headers:
                    Host: cdn.example
                  max-early-data: 2048
                  early-data-header-name: Sec-WebSocket-Protocol
              - name: tj
                type: trojan
                server: tj.example
                port: 443
                password: pw
                sni: tj.example
                skip-cert-verify: true
                udp: false
              - name: vm
                type: tuic
                server: vm.example
                port: 443
            """;

        var result = ClashYaml.Parse(yaml, "clash.yaml");

        Assert.Equal(2, result.Outbounds.Count);
        var vless = result.Outbounds[0];
        Assert.Equal("cdn.example", (string?)vless["tls"]!["server_name"]);
        Assert.Equal("Sec-WebSocket-Protocol", (string?)vless["transport"]!["early_data_header_name"]);
        var trojan = result.Outbounds[1];
        Assert.True((bool?)trojan["tls"]!["insecure"]);
        Assert.Equal("tcp", (string?)trojan["network"]);
        Assert.Contains("tuic", Assert.Single(result.Notes), StringComparison.Ordinal);
        foreach (var o in result.Outbounds) Assert.Empty(ConfigLoader.Validate($$"""{"outbounds":[{{o.ToJsonString()}}]}"""));
    }

    /// <summary>Xray/Hiddify link fields asking for protection Sluice's TLS cannot give are refused, never dropped.</summary>
    [Theory]
    [InlineData($"vless://{Uuid}@203.0.113.10:443?encryption=none&security=tls&sni=a.example&ech=AEX%2BDQBB#e", "ech (Encrypted Client Hello)")]
    [InlineData($"vless://{Uuid}@203.0.113.10:443?encryption=none&security=reality&sni=a.example&pbk=jNXHt1yRo0vDuchQlIP6Z0ZvjT3KtzVI-T4E7RoLJS0&pqv=AbCd#p", "pqv (the Reality server's ML-DSA-65")]
    [InlineData("trojan://pw@tj.example:443?security=tls&fragment=1%2C40-60%2C30-50#f", "fragment (ClientHello fragmentation)")]
    public void LinkAskingForEchPqvOrFragment_IsRefused_NamingTheField(string link, string expected)
    {
        var e = Assert.Throws<ImportException>(() => ShareLinks.Parse(link, "x"));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain(Uuid, e.Message);
    }
}
