using System.Security.Authentication;
using Sluice.Core.Configuration;
using Sluice.Core.Outbounds.Transport;
using Sluice.Core.Outbounds.Trojan;
using Sluice.Core.Outbounds.Vless;

namespace Sluice.Core.Tests.Configuration;

public sealed class TrojanVlessConfigTests
{
    private const string Uuid = "b831381d-6324-4d53-ad4f-8cda48b30811";

    private static IReadOnlyList<ConfigError> Validate(string outbound) => ConfigLoader.Validate($$"""{"outbounds":[{{outbound}}]}""");

    private static string Vless(string extra) => $$"""{"type":"vless","tag":"v","server":"vl.example","server_port":443,"uuid":"{{Uuid}}"{{extra}}}""";

    [Fact]
    public void Trojan_WithTlsAndWs_IsRead()
    {
        var config = ConfigLoader.Load("""
            {"outbounds":[{"type":"trojan","tag":"t","server":"tj.example","server_port":443,"password":"pw",
              "tls":{"enabled":true,"server_name":"cdn.example","alpn":["h2","http/1.1"],"min_version":"1.3","utls":{"enabled":true,"fingerprint":"firefox"}},
              "transport":{"type":"ws","path":"/tj","headers":{"Host":"cdn.example"},"max_early_data":2048,"early_data_header_name":"Sec-WebSocket-Protocol"}}]}
            """);

        var trojan = Assert.IsType<TrojanOutboundOptions>(config.Outbounds[0]);
        Assert.Equal("cdn.example", trojan.Tls!.ServerName);
        Assert.Equal(SslProtocols.Tls13, trojan.Tls.Protocols);
        Assert.Equal(["h2", "http/1.1"], trojan.Tls.Alpn);
        Assert.Equal("firefox", trojan.Tls.UtlsFingerprint);
        var ws = Assert.IsType<WebSocketTransportOptions>(trojan.Transport);
        Assert.Equal("/tj", ws.Path);
        Assert.Equal(2048, ws.MaxEarlyData);
        Assert.Equal("Sec-WebSocket-Protocol", ws.EarlyDataHeaderName);
    }

    [Fact]
    public void Vless_PacketEncoding_DefaultsToXudp_AndEmptyMeansPlain()
    {
        var byDefault = Assert.IsType<VlessOutboundOptions>(ConfigLoader.Load($$"""{"outbounds":[{{Vless("")}}]}""").Outbounds[0]);
        var plain = Assert.IsType<VlessOutboundOptions>(ConfigLoader.Load($$"""{"outbounds":[{{Vless(",\"packet_encoding\":\"\"")}}]}""").Outbounds[0]);

        Assert.Equal(VlessPacketEncoding.Xudp, byDefault.PacketEncoding);
        Assert.Equal(VlessPacketEncoding.Plain, plain.PacketEncoding);
    }

    [Fact]
    public void Vless_CustomId_MapsToUuidV5_AsXray()
    {
        // Xray's documented example: "我爱🍉老师1314" maps to 5783a3e7-e373-51cd-8642-c83782b807c5.
        byte[]? id = VlessProtocol.ParseUserId("我爱🍉老师1314");

        Assert.Equal("5783a3e7e37351cd8642c83782b807c5", Convert.ToHexStringLower(id!));
    }

    [Theory]
    [InlineData(",\"flow\":\"xtls-rprx-vision\"", "outbounds[0].flow")]
    [InlineData(",\"tls\":{\"enabled\":true,\"min_version\":\"1.4\"}", "outbounds[0].tls.min_version")]
    [InlineData(",\"tls\":{\"enabled\":true,\"certificate\":\"not pem\"}", "outbounds[0].tls.certificate")]
    [InlineData(",\"tls\":{\"enabled\":true,\"ech\":{\"enabled\":true}}", "outbounds[0].tls.ech")]
    [InlineData(",\"transport\":{\"type\":\"quic\"}", "outbounds[0].transport.type")]
    [InlineData(",\"transport\":{\"type\":\"ws\",\"path\":\"no-slash\"}", "outbounds[0].transport.path")]
    [InlineData(",\"packet_encoding\":\"packetaddr\"", "outbounds[0].packet_encoding")]
    public void Vless_UnsupportedOrWrongField_IsRefused_AtItsPath(string extra, string path)
    {
        var errors = Validate(Vless(extra));

        Assert.Contains(errors, e => e.Path == path);
    }

    [Fact]
    public void Vless_BadUuid_IsRefused_WithoutEchoingIt()
    {
        var errors = Validate("""{"type":"vless","tag":"v","server":"vl.example","server_port":443,"uuid":"this-custom-id-is-far-too-long-to-be-mapped"}""");

        var error = Assert.Single(errors);
        Assert.Equal("outbounds[0].uuid", error.Path);
        Assert.DoesNotContain("far-too-long", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Trojan_WithoutPassword_IsRefused() =>
        Assert.Contains(Validate("""{"type":"trojan","tag":"t","server":"tj.example","server_port":443}"""), e => e.Path == "outbounds[0].password");

    [Fact]
    public void DisabledTls_IsIgnored_WholeObject() =>
        Assert.Empty(Validate(Vless(",\"tls\":{\"enabled\":false,\"server_name\":\"x\",\"whatever\":1}")));
}
