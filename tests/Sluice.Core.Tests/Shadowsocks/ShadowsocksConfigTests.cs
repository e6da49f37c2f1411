using Sluice.Core.Configuration;
using Sluice.Core.Outbounds.Shadowsocks.Plugins;

namespace Sluice.Core.Tests.Shadowsocks;

public sealed class ShadowsocksConfigTests
{
    private static string Config(string fields) => $$"""
        {"outbounds": [{"type": "shadowsocks", "tag": "ss", "server": "192.0.2.1", "server_port": 8388, {{fields}}}]}
        """;

    private static string ErrorOf(string fields) =>
        Assert.Throws<ConfigException>(() => ConfigLoader.Load(Config(fields))).Message;

    [Theory]
    [InlineData("\"method\": \"aes-128-gcm\", \"password\": \"p\", \"plugin\": \"kcptun\"", "outbounds[0].plugin: plugin \"kcptun\" is not built into Sluice")]
    [InlineData("\"method\": \"aes-128-gcm\", \"password\": \"p\", \"plugin\": \"obfs-local\", \"plugin_opts\": \"obfs=http;fast=1\"", "outbounds[0].plugin_opts: \"fast\" is not an obfs-local option")]
    [InlineData("\"method\": \"aes-128-gcm\", \"password\": \"p\", \"plugin\": \"v2ray-plugin\", \"plugin_opts\": \"mode=quic\"", "outbounds[0].plugin_opts: mode=quic: Sluice's v2ray-plugin speaks only mode=websocket")]
    [InlineData("\"method\": \"aes-128-gcm\", \"password\": \"p\", \"plugin_opts\": \"obfs=http\"", "outbounds[0].plugin_opts: set without \"plugin\"")]
    [InlineData("\"method\": \"2022-blake3-aes-256-gcm\", \"password\": \"5mOQSa20Kt6ay2LXruBoHQ==\"", "outbounds[0].password: the key is 16 bytes; 2022-blake3-aes-256-gcm needs exactly 32")]
    [InlineData("\"method\": \"2022-blake3-aes-128-gcm\", \"password\": \"not base64!\"", "outbounds[0].password: the key is not base64")]
    [InlineData("\"method\": \"2022-blake3-chacha20-poly1305\", \"password\": \"t7XRzLCvgsH4r4r669cyqPnVNFG2c/HC5Tt+MjINJB0=:t7XRzLCvgsH4r4r669cyqPnVNFG2c/HC5Tt+MjINJB0=\"", "outbounds[0].password: identity keys (iPSK:uPSK) exist only for the AES 2022 methods")]
    public void BadShadowsocksFields_NameTheJsonPath(string fields, string expected)
    {
        string message = ErrorOf(fields);

        Assert.Contains(expected, message);
        Assert.DoesNotContain("5mOQSa20", message);
    }

    [Fact]
    public void PluginAnd2022Fields_Parse()
    {
        var config = ConfigLoader.Load(Config("""
            "method": "2022-blake3-aes-128-gcm", "password": "5mOQSa20Kt6ay2LXruBoHQ==:5mOQSa20Kt6ay2LXruBoHQ==",
            "plugin": "v2ray-plugin", "plugin_opts": "tls;host=cdn.example.com;path=/ws;mux=0"
            """));

        var ss = Assert.IsType<ShadowsocksOutboundOptions>(config.Outbounds.Single(o => o.Tag == "ss"));
        var v2ray = Assert.IsType<V2RayPluginOptions>(ss.Plugin);
        Assert.Equal(("cdn.example.com", "/ws", true, false), (v2ray.Host, v2ray.Path, v2ray.Tls, v2ray.Mux));
    }

    [Theory]
    [InlineData("obfs=http", false, "www.bing.com", "/")]
    [InlineData("obfs=tls;obfs-host=a\\;b.example", true, "a;b.example", "/")]
    [InlineData("obfs=http;obfs-uri=/x", false, "www.bing.com", "/x")]
    public void ObfsOpts_ParseWithDefaultsAndEscapes(string opts, bool tls, string host, string uri)
    {
        var obfs = Assert.IsType<ObfsPluginOptions>(ShadowsocksPluginParser.Parse("obfs-local", opts, out string? error, out _));

        Assert.Null(error);
        Assert.Equal((tls, host, uri), (obfs.Tls, obfs.Host, obfs.Uri));
    }
}
