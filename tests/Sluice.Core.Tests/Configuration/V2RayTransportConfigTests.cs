using Sluice.Core.Configuration;
using Sluice.Core.Outbounds.Transport;
using Sluice.Core.Outbounds.Vless;

namespace Sluice.Core.Tests.Configuration;

public sealed class V2RayTransportConfigTests
{
    private const string Uuid = "b831381d-6324-4d53-ad4f-8cda48b30811";

    private static string Vless(string transport) =>
        $$"""{"outbounds":[{"type":"vless","tag":"v","server":"vl.example","server_port":443,"uuid":"{{Uuid}}","tls":{"enabled":true},"transport":{{transport}}}]}""";

    private static TransportOptions? Transport(string transport) => Assert.IsType<VlessOutboundOptions>(ConfigLoader.Load(Vless(transport)).Outbounds[0]).Transport;

    [Fact]
    public void HttpUpgrade_IsRead_WithHostPathAndHeaders()
    {
        var up = Assert.IsType<HttpUpgradeTransportOptions>(Transport("""{"type":"httpupgrade","host":"cdn.example","path":"/up","headers":{"User-Agent":"x"}}"""));

        Assert.Equal("cdn.example", up.Host);
        Assert.Equal("/up", up.Path);
        Assert.Equal([new("User-Agent", "x")], up.Headers);
    }

    [Fact]
    public void Http_IsRead_WithSingBoxDefaults()
    {
        var http = Assert.IsType<HttpTransportOptions>(Transport("""{"type":"http"}"""));
        var set = Assert.IsType<HttpTransportOptions>(Transport(
            """{"type":"http","host":["a.example","b.example"],"path":"/h2","method":"POST","idle_timeout":"30s","ping_timeout":"5s"}"""));

        Assert.Empty(http.Hosts);
        Assert.Equal(("/", "PUT", TimeSpan.Zero, TimeSpan.FromSeconds(15)), (http.Path, http.Method, http.IdleTimeout, http.PingTimeout));
        Assert.Equal(["a.example", "b.example"], set.Hosts);
        Assert.Equal(("/h2", "POST", TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(5)), (set.Path, set.Method, set.IdleTimeout, set.PingTimeout));
    }

    [Fact]
    public void Http_OneHostMayBeAString_AsSingBoxListsAllow()
    {
        var http = Assert.IsType<HttpTransportOptions>(Transport("""{"type":"http","host":"a.example"}"""));

        Assert.Equal(["a.example"], http.Hosts);
    }

    [Fact]
    public void Grpc_IsRead_WithItsKeepAliveFields()
    {
        var grpc = Assert.IsType<GrpcTransportOptions>(Transport(
            """{"type":"grpc","service_name":"TunService","idle_timeout":"15s","ping_timeout":"10s","permit_without_stream":true}"""));

        Assert.Equal(new GrpcTransportOptions("TunService", TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(10), true), grpc);
    }

    [Theory]
    [InlineData("""{"type":"httpupgrade","path":"up"}""", "outbounds[0].transport.path", "must start with")]
    [InlineData("""{"type":"httpupgrade","host":"a b"}""", "outbounds[0].transport.host", "not a host name")]
    [InlineData("""{"type":"httpupgrade","max_early_data":10}""", "outbounds[0].transport.max_early_data", "")]
    [InlineData("""{"type":"http","host":["ok.example","bad/host"]}""", "outbounds[0].transport.host[1]", "not a host name")]
    [InlineData("""{"type":"http","method":"GE T"}""", "outbounds[0].transport.method", "not an HTTP method")]
    [InlineData("""{"type":"http","idle_timeout":"soon"}""", "outbounds[0].transport.idle_timeout", "not a duration")]
    [InlineData("""{"type":"http","headers":{"X":"a\nb"}}""", "outbounds[0].transport.headers.X", "line breaks")]
    [InlineData("""{"type":"grpc","service_name":"a/b"}""", "outbounds[0].transport.service_name", "must not hold '/'")]
    [InlineData("""{"type":"grpc","ping_timeout":5}""", "outbounds[0].transport.ping_timeout", "duration")]
    [InlineData("""{"type":"grpc","permit_without_stream":"yes"}""", "outbounds[0].transport.permit_without_stream", "")]
    [InlineData("""{"type":"quic"}""", "outbounds[0].transport.type", "not supported by Sluice yet")]
    [InlineData("""{"type":"kcp"}""", "outbounds[0].transport.type", "is not a V2Ray transport")]
    public void WrongField_IsRefused_AtItsJsonPath(string transport, string path, string phrase)
    {
        var errors = ConfigLoader.Validate(Vless(transport));

        Assert.Contains(errors, e => e.Path == path && e.Message.Contains(phrase, StringComparison.Ordinal));
    }
}
