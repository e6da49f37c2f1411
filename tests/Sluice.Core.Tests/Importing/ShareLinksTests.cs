using System.Text;
using Sluice.Core.Configuration;
using Sluice.Core.Importing;
using Sluice.Core.Outbounds.WireGuard;

namespace Sluice.Core.Tests.Importing;

public sealed class ShareLinksTests
{
    private static string B64Url(string s) => Convert.ToBase64String(Encoding.UTF8.GetBytes(s)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    [Fact]
    public void Sip002_Base64UserInfo_BecomesShadowsocksOutbound()
    {
        var o = ShareLinks.Parse($"ss://{B64Url("aes-256-gcm:pa:ss")}@198.51.100.7:8388/#Tokyo%201", "x");

        Assert.Equal("shadowsocks", (string?)o["type"]);
        Assert.Equal("Tokyo 1", (string?)o["tag"]);
        Assert.Equal("198.51.100.7", (string?)o["server"]);
        Assert.Equal(8388, (int)o["server_port"]!);
        Assert.Equal("aes-256-gcm", (string?)o["method"]);
        Assert.Equal("pa:ss", (string?)o["password"]);
    }

    [Fact]
    public void LegacyWholeBase64Link_IsParsed()
    {
        var o = ShareLinks.Parse("ss://" + Convert.ToBase64String(Encoding.UTF8.GetBytes("chacha20-ietf-poly1305:pw@example.com:443")), "fallback");

        Assert.Equal("fallback", (string?)o["tag"]);
        Assert.Equal("example.com", (string?)o["server"]);
        Assert.Equal("chacha20-ietf-poly1305", (string?)o["method"]);
    }

    [Fact]
    public void Ipv6Host_InBrackets_IsParsed()
    {
        var o = ShareLinks.Parse("ss://aes-128-gcm:pw@[2001:db8::1]:8388#v6", "x");

        Assert.Equal("2001:db8::1", (string?)o["server"]);
    }

    [Fact]
    public void Socks5Link_WithCredentials_BecomesSocksOutbound()
    {
        var o = ShareLinks.Parse("socks5://us%40er:p%3Ass@10.0.0.1:1080#office", "x");

        Assert.Equal("socks", (string?)o["type"]);
        Assert.Equal("us@er", (string?)o["username"]);
        Assert.Equal("p:ss", (string?)o["password"]);
        Assert.Equal(1080, (int)o["server_port"]!);
    }

    [Fact]
    public void SocksLinkOfV2RayN_WithBase64Credentials_BecomesSocksOutbound()
    {
        var o = ShareLinks.Parse($"socks://{Convert.ToBase64String(Encoding.UTF8.GetBytes("alice:s3cr:et"))}@10.0.0.1:1080#v2rayN", "x");

        Assert.Equal("socks", (string?)o["type"]);
        Assert.Equal("alice", (string?)o["username"]);
        Assert.Equal("s3cr:et", (string?)o["password"]);
    }

    [Theory]
    [InlineData("http://us%40er:pw@10.0.0.1:3128#squid", "us@er", "pw")]
    [InlineData("http://10.0.0.1:3128/", null, null)]
    [InlineData("https://alice:pw@10.0.0.1:3128#tls", "alice", "pw")]
    public void HttpProxyLink_BecomesHttpOutbound_AndIsWrittenBackTheSame(string link, string? user, string? password)
    {
        Assert.True(ShareLinks.IsLink(link));
        var o = ShareLinks.Parse(link, "fallback");

        Assert.Equal("http", (string?)o["type"]);
        Assert.Equal(3128, (int)o["server_port"]!);
        Assert.Equal(user, (string?)o["username"]);
        Assert.Equal(password, (string?)o["password"]);
        Assert.Equal(link.StartsWith("https", StringComparison.Ordinal), o["tls"] is not null);
        var again = ShareLinks.Parse(ShareLinkWriter.Write(o)!, "other");
        Assert.True(System.Text.Json.Nodes.JsonNode.DeepEquals(o, again), again.ToJsonString());
        Assert.Empty(ConfigLoader.Validate(SubscriptionBody.RenderConfig([o])));
    }

    [Theory]
    [InlineData("https://sub.example.com/api/v1/client/subscribe?token=abc")]
    [InlineData("http://sub.example.com/list.txt")]
    [InlineData("https://sub.example.com")]
    [InlineData("http://[::1]/x")]
    [InlineData("https://sub.example.com:8443#no-credentials")]
    public void AWebAddress_IsNotTakenForAnHttpProxyLink(string url) => Assert.False(ShareLinks.IsLink(url));

    [Theory]
    [InlineData("ss://YWVzLTI1Ni1nY206cHc@host:8388/?plugin=kcptun%3Bmode%3Dfast#a", "plugin: plugin \"kcptun\" is not built into Sluice")]
    [InlineData("ss://YWVzLTI1Ni1nY206cHc@host:8388/?plugin=obfs-local%3Bobfs%3Dssh#a", "plugin: obfs=ssh: expected obfs=http or obfs=tls")]
    [InlineData("ss://2022-blake3-aes-128-gcm:c2hvcnQ%3D@host:1#a", "password: the key is 5 bytes; 2022-blake3-aes-128-gcm needs exactly 16")]
    [InlineData("ss://YWVzLTI1Ni1nY206cHc@host:99999#a", "port \"99999\" is not a number in 1..65535")]
    [InlineData("ss://YWVzLTI1Ni1nY206cHc@host#a", "\"host\" is not host:port")]
    [InlineData("ss://cmM0LW1kNTpwdw@host:1#a", "method \"rc4-md5\" is not supported")]
    [InlineData("ss://!!!notbase64!!!@host:1#a", "the userinfo is neither base64url of method:password nor method:password")]
    [InlineData("tuic://abc", "scheme \"tuic\" is not imported")]
    [InlineData("socks5://user@host:1080", "credentials before '@' are not user:password")]
    public void MalformedLink_GivesOneLineError_NamingThePart(string link, string expected)
    {
        var e = Assert.Throws<ImportException>(() => ShareLinks.Parse(link, "x"));

        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Base64Subscription_YieldsEveryServer_SkipsBadLineWithNote_AndConfigValidates()
    {
        string body = string.Join('\n',
            $"ss://{B64Url("aes-128-gcm:a")}@10.0.0.1:8388#one",
            "ss://broken",
            $"ss://{B64Url("aes-128-gcm:b")}@10.0.0.2:8388#one",
            "socks5://10.0.0.3:1080#three");
        string encoded = Convert.ToBase64String(Encoding.UTF8.GetBytes(body));

        var result = SubscriptionBody.Parse(encoded, "sub.txt");
        string config = SubscriptionBody.RenderConfig(result.Outbounds);

        Assert.Equal(["one", "one-2", "three"], result.Outbounds.Select(o => (string)o["tag"]!).ToArray());
        Assert.Single(result.Notes);
        Assert.Contains("line 2", result.Notes[0]);
        Assert.Empty(ConfigLoader.Validate(config));
    }

    [Fact]
    public void GarbageBody_IsAnError()
    {
        Assert.Throws<ImportException>(() => SubscriptionBody.Parse("<html>not a subscription</html>", "sub"));
    }
    /// <summary>An error about a link names it without its userinfo: the base64 there is the password.</summary>
    [Theory]
    [InlineData("aes-128-gcm:hunter2-secret", "10.0.0.2:notaport")]
    public void BadLinkError_DoesNotPrintTheUserInfo(string userInfo, string rest)
    {
        string secret = B64Url(userInfo);
        var e = Assert.Throws<ImportException>(() => ShareLinks.Parse($"ss://{secret}@{rest}#x", "x"));
        Assert.DoesNotContain(secret[..8], e.Message);
        Assert.Contains("ss://…@10.0.0.2", e.Message);
    }

    [Fact]
    public void RedactedText_DropsUserInfoAndQuery_KeepsHostPathAndName()
    {
        Assert.Equal("https://sub.example/list?… failed", Sluice.Core.Monitoring.RedactedText.Of("https://sub.example/list?token=abc123 failed"));
        Assert.Equal("socks5://…@10.0.0.3:1080#three", Sluice.Core.Monitoring.RedactedText.Of("socks5://user:pass@10.0.0.3:1080#three"));
        Assert.Equal("no link here", Sluice.Core.Monitoring.RedactedText.Of("no link here"));
    }

    /// <summary>Plain (not base64) lists may open with provider info lines or a comment; the links after them are the servers.</summary>
    [Theory]
    [InlineData("STATUS=Traffic: 1GB/100GB\nREMARKS=Provider\n")]
    [InlineData("# my servers\n")]
    public void PlainSubscription_OpeningWithInfoLinesOrAComment_YieldsItsLinks(string head)
    {
        string body = head + $"ss://{B64Url("aes-128-gcm:a")}@10.0.0.1:8388#one\ntrojan://pw@tj.example:443?sni=tj.example#two\n";

        Assert.True(SubscriptionBody.Looks(body));
        var result = SubscriptionBody.ParseAny(body, "sub.txt");
        Assert.Equal(["one", "two"], result.Outbounds.Select(o => (string)o["tag"]!).ToArray());
    }

    /// <summary>--links: a field the link cannot carry (a detour, a bound device) is named, not lost in silence; zero values are not.</summary>
    [Fact]
    public void WrittenLinks_NameTheFieldsTheyCannotCarry()
    {
        var skipped = new List<string>();
        string links = ShareLinkWriter.WriteAll("""
            {"outbounds": [{"type": "socks", "tag": "exit", "server": "10.0.0.1", "server_port": 1080, "detour": "entry", "network": "tcp"},
                           {"type": "shadowsocks", "tag": "entry", "server": "10.0.0.2", "server_port": 8388, "method": "aes-128-gcm", "password": "p",
                            "multiplex": {"enabled": false}, "udp_over_tcp": false}]}
            """, skipped);

        Assert.Equal(2, links.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal("outbound \"exit\": its link has no form for detour, network; the link imports without them", Assert.Single(skipped));
    }
}
