using System.Text.Json.Nodes;
using Sluice.Core.Configuration;
using Sluice.Core.Importing;

namespace Sluice.Core.Tests.Importing;

public sealed class ShadowsocksLinkTests
{
    private const string Psk16 = "5mOQSa20Kt6ay2LXruBoHQ==";

    [Fact]
    public void Sip002Example_2022Link_BecomesOutbound()
    {
        var o = ShareLinks.Parse("ss://2022-blake3-aes-128-gcm:5mOQSa20Kt6ay2LXruBoHQ%3D%3D@example.com:443/#name", "x");

        Assert.Equal("2022-blake3-aes-128-gcm", (string?)o["method"]);
        Assert.Equal(Psk16, (string?)o["password"]);
        Assert.Equal("name", (string?)o["tag"]);
    }

    [Fact]
    public void PluginQuery_BecomesPluginAndOpts()
    {
        var o = ShareLinks.Parse("ss://YWVzLTI1Ni1nY206cHc@host:8388/?plugin=v2ray-plugin%3Btls%3Bhost%3Dcdn.example.com%3Bpath%3D%2Fws#a", "x");

        Assert.Equal("v2ray-plugin", (string?)o["plugin"]);
        Assert.Equal("tls;host=cdn.example.com;path=/ws", (string?)o["plugin_opts"]);
    }

    [Theory]
    [InlineData("ss://YWVzLTI1Ni1nY206cHc@host:8388/?plugin=obfs-local%3Bobfs%3Dtls%3Bobfs-host%3Dbing.com#obfs%20one")]
    [InlineData("ss://2022-blake3-aes-256-gcm:t7XRzLCvgsH4r4r669cyqPnVNFG2c%2FHC5Tt%2BMjINJB0%3D@[2001:db8:1f74:3c86:aef9:a75:5d2a:425e]:20220/#v6")]
    [InlineData("ss://2022-blake3-aes-128-gcm:5mOQSa20Kt6ay2LXruBoHQ%3D%3D%3A5mOQSa20Kt6ay2LXruBoHQ%3D%3D@example.com:443/?plugin=v2ray-plugin%3Bpath%3D%2Fa%5C%3Bb#multi")]
    [InlineData("ss://eGNoYWNoYTIwLWlldGYtcG9seTEzMDU6cDpAc3M@10.0.0.1:8388#xchacha")]
    [InlineData("socks5://us%40er:p%3Ass@10.0.0.1:1080#office")]
    public void WrittenLink_ReimportsToTheSameOutbound(string link)
    {
        var first = ShareLinks.Parse(link, "x");

        string written = ShareLinkWriter.Write(first)!;
        var again = ShareLinks.Parse(written, "y");

        Assert.True(JsonNode.DeepEquals(first, again), $"{first.ToJsonString()}\n{written}\n{again.ToJsonString()}");
    }

    [Fact]
    public void Errors_NeverShowThePasswordOrUserinfo()
    {
        string[] links =
        [
            "ss://2022-blake3-aes-128-gcm:c2VjcmV0LXNlY3JldA%3D%3D@host:1#a",
            "ss://YWVzLTI1Ni1nY206c2VjcmV0LXNlY3JldA@host:99999#a",
            "ss://YWVzLTI1Ni1nY206c2VjcmV0LXNlY3JldEBob3N0#legacy",
        ];
        foreach (string link in links)
        {
            var e = Assert.Throws<Sluice.Core.Outbounds.WireGuard.ImportException>(() => ShareLinks.Parse(link, "x"));
            Assert.DoesNotContain("secret", e.Message);
            Assert.DoesNotContain("c2VjcmV0", e.Message);
            Assert.DoesNotContain("YWVz", e.Message);
        }
    }

    [Fact]
    public void RenderedConfig_FromPluginAnd2022Links_PassesTheConfigLoader()
    {
        var outbounds = new[]
        {
            ShareLinks.Parse($"ss://2022-blake3-aes-128-gcm:{Uri.EscapeDataString(Psk16)}@192.0.2.1:443#k", "a"),
            ShareLinks.Parse("ss://YWVzLTI1Ni1nY206cHc@192.0.2.2:80/?plugin=obfs-local%3Bobfs%3Dhttp#o", "b"),
        };

        var config = ConfigLoader.Load(SubscriptionBody.RenderConfig(outbounds));

        var obfs = Assert.IsType<ShadowsocksOutboundOptions>(config.Outbounds.Single(o => o.Tag == "o"));
        Assert.IsType<Sluice.Core.Outbounds.Shadowsocks.Plugins.ObfsPluginOptions>(obfs.Plugin);
    }

    /// <summary>Outline's prefix and UDP-over-TCP change the wire bytes or how UDP travels: refused, not silently dropped.</summary>
    [Theory]
    [InlineData("ss://Y2hhY2hhMjAtaWV0Zi1wb2x5MTMwNTp0ZXN0@198.51.100.7:8388/?outline=1&prefix=%16%03%01%00%C2%A8%01%01#o", "prefix (Outline's salt prefix)")]
    [InlineData("ss://YWVzLTEyOC1nY206dGVzdA@198.51.100.7:8388/?uot=1#u", "uot (UDP over TCP)")]
    [InlineData("ss://YWVzLTEyOC1nY206dGVzdA@198.51.100.7:8388/?udp-over-tcp=true#u", "udp-over-tcp (UDP over TCP)")]
    public void OutlinePrefixOrUdpOverTcp_IsRefused_NotDropped(string link, string expected)
    {
        var e = Assert.Throws<Sluice.Core.Outbounds.WireGuard.ImportException>(() => ShareLinks.Parse(link, "x"));
        Assert.Contains(expected, e.Message);
        // Labels that change nothing still import.
        Assert.Equal("shadowsocks", (string?)ShareLinks.Parse("ss://YWVzLTEyOC1nY206dGVzdA@198.51.100.7:8388/?outline=1&uot=0&group=g#u", "x")["type"]);
    }

    /// <summary>A percent-encoded '+' in the plugin's options is a '+' (only a bare '+' stands for a space).</summary>
    [Fact]
    public void PluginOptions_KeepAnEncodedPlus()
    {
        var o = ShareLinks.Parse("ss://YWVzLTI1Ni1nY206cHc@host:8388/?plugin=v2ray-plugin%3Bhost%3Dcdn.example.com%3Bpath%3D%2Fa%2Bb#a", "x");
        Assert.Equal("host=cdn.example.com;path=/a+b", (string?)o["plugin_opts"]);
    }
}
