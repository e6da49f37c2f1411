using Sluice.Core.Configuration;
using Sluice.Core.Outbounds.Transport;
using Sluice.Core.Outbounds.Vless;
using Sluice.Core.Outbounds.Vmess;

namespace Sluice.Core.Tests.Configuration;

public sealed class VmessConfigTests
{
    private const string Uuid = "b831381d-6324-4d53-ad4f-8cda48b30811";

    private static string Vmess(string extra) => $$"""{"type":"vmess","tag":"vm","server":"vm.example","server_port":443,"uuid":"{{Uuid}}"{{extra}}}""";

    private static VmessOutboundOptions Load(string extra) =>
        Assert.IsType<VmessOutboundOptions>(ConfigLoader.Load($$"""{"outbounds":[{{Vmess(extra)}}]}""").Outbounds[0]);

    [Fact]
    public void Vmess_WithEveryOption_IsRead()
    {
        var o = Load(""","security":"chacha20-poly1305","alter_id":0,"global_padding":true,"authenticated_length":true,"packet_encoding":"xudp",""" +
            """ "answer_timeout":"30s","tls":{"enabled":true,"server_name":"cdn.example"},"transport":{"type":"ws","path":"/vm"}""");

        Assert.Equal(VmessSecurity.ChaCha20Poly1305, o.Security);
        Assert.True(o.GlobalPadding);
        Assert.True(o.AuthenticatedLength);
        Assert.Equal(VlessPacketEncoding.Xudp, o.PacketEncoding);
        Assert.Equal(TimeSpan.FromSeconds(30), o.AnswerTimeout);
        Assert.Equal("cdn.example", o.Tls!.ServerName);
        Assert.Equal("/vm", Assert.IsType<WebSocketTransportOptions>(o.Transport).Path);
    }

    [Fact]
    public void Vmess_Defaults_AreSingBoxs()
    {
        var o = Load("");

        Assert.Equal(VmessOptionsParser.SecurityNamed("auto"), o.Security);
        Assert.False(o.GlobalPadding);
        Assert.False(o.AuthenticatedLength);
        Assert.Equal(VlessPacketEncoding.Plain, o.PacketEncoding); // the UDP command
        Assert.Equal(TimeSpan.FromSeconds(10), o.AnswerTimeout);
    }

    [Fact]
    public void Auto_IsAesGcm_OnX64AndArm64() =>
        Assert.Equal(System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture is System.Runtime.InteropServices.Architecture.X64
            or System.Runtime.InteropServices.Architecture.Arm64 ? VmessSecurity.Aes128Gcm : VmessSecurity.ChaCha20Poly1305, VmessOptionsParser.SecurityNamed("auto"));

    [Theory]
    [InlineData(",\"alter_id\":64", "outbounds[0].alter_id", "legacy MD5/timestamp header")]
    [InlineData(",\"security\":\"aes-128-cfb\"", "outbounds[0].security", "a legacy cipher")]
    [InlineData(",\"security\":\"aes-128-ctr\"", "outbounds[0].security", "a legacy cipher")]
    [InlineData(",\"security\":\"rot13\"", "outbounds[0].security", "expected \"auto\"")]
    [InlineData(",\"security\":\"zero\",\"network\":\"udp\"", "outbounds[0].security", "no datagram boundaries")]
    [InlineData(",\"packet_encoding\":\"packetaddr\"", "outbounds[0].packet_encoding", "not supported")]
    [InlineData(",\"transport\":{\"type\":\"quic\"}", "outbounds[0].transport.type", "not supported by Sluice yet")]
    [InlineData(",\"multiplex\":{\"enabled\":true}", "outbounds[0].multiplex", "not supported")]
    public void Vmess_WrongOrUnsupportedField_IsRefused_AtItsPath(string extra, string path, string phrase)
    {
        var errors = ConfigLoader.Validate($$"""{"outbounds":[{{Vmess(extra)}}]}""");

        Assert.Contains(errors, e => e.Path == path && e.Message.Contains(phrase, StringComparison.Ordinal));
    }

    [Fact]
    public void Vmess_BadUuid_IsRefused_WithoutEchoingIt()
    {
        var error = Assert.Single(ConfigLoader.Validate("""{"outbounds":[{"type":"vmess","tag":"v","server":"vm.example","server_port":443,"uuid":"secret-not-a-uuid"}]}"""));

        Assert.Equal("outbounds[0].uuid", error.Path);
        Assert.DoesNotContain("secret", error.Message, StringComparison.Ordinal);
    }
}
