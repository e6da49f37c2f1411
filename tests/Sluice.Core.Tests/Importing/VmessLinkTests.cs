using System.Text;
using System.Text.Json.Nodes;
using Sluice.Core.Configuration;
using Sluice.Core.Importing;
using Sluice.Core.Outbounds.Vmess;
using Sluice.Core.Outbounds.WireGuard;

namespace Sluice.Core.Tests.Importing;

public sealed class VmessLinkTests
{
    private const string Uuid = "b831381d-6324-4d53-ad4f-8cda48b30811";

    /// <summary>v2rayN's form: vmess:// and base64 of its JSON.</summary>
    private static string Link(string json) => "vmess://" + Convert.ToBase64String(Encoding.UTF8.GetBytes(json));

    private static readonly string WsTls = Link($$"""
        {"v":"2","ps":"SG 01","add":"sg.example","port":"443","id":"{{Uuid}}","aid":"0","scy":"auto","net":"ws","type":"none",
         "host":"cdn.example","path":"/vm?ed=2048","tls":"tls","sni":"cdn.example","alpn":"h2,http/1.1","fp":"chrome"}
        """);

    [Fact]
    public void V2rayNLink_WsTls_BecomesAVmessOutbound_ThatPassesTheConfigLoader()
    {
        var o = ShareLinks.Parse(WsTls, "x");

        Assert.Equal("vmess", (string?)o["type"]);
        Assert.Equal("SG 01", (string?)o["tag"]);
        Assert.Equal("sg.example", (string?)o["server"]);
        Assert.Equal(443, (int?)o["server_port"]);
        Assert.Equal(Uuid, (string?)o["uuid"]);
        Assert.Null(o["security"]); // auto is the default
        Assert.Equal("cdn.example", (string?)o["tls"]!["server_name"]);
        Assert.Equal("chrome", (string?)o["tls"]!["utls"]!["fingerprint"]);
        Assert.Equal("/vm", (string?)o["transport"]!["path"]);
        Assert.Equal(2048, (int?)o["transport"]!["max_early_data"]);
        Assert.Equal("cdn.example", (string?)o["transport"]!["headers"]!["Host"]);
        var options = Assert.IsType<VmessOutboundOptions>(ConfigLoader.Load($$"""{"outbounds":[{{o.ToJsonString()}}]}""").Outbounds[0]);
        Assert.Equal(["h2", "http/1.1"], options.Tls!.Alpn);
    }

    [Theory]
    [InlineData($$"""{"v":"2","ps":"plain","add":"198.51.100.7","port":8388,"id":"{{Uuid}}","aid":0,"scy":"chacha20-poly1305","net":"tcp","type":"none","tls":""}""")]
    [InlineData($$"""{"v":"2","ps":"v6","add":"2001:db8::1","port":"443","id":"{{Uuid}}","aid":"0","scy":"zero","net":"tcp","tls":"tls","sni":"v6.example"}""")]
    [InlineData($$"""{"v":"2","add":"vm.example","port":"80","id":"{{Uuid}}","net":"ws","path":"/","host":"vm.example","tls":""}""")]
    [InlineData($$"""{"v":"2","add":"vm.example","port":"443","id":"{{Uuid}}","net":"grpc","type":"gun","path":"VmSvc","tls":"tls","sni":"vm.example"}""")]
    [InlineData($$"""{"v":"2","add":"vm.example","port":"443","id":"{{Uuid}}","net":"h2","host":"a.example,b.example","path":"/h2","tls":"tls"}""")]
    [InlineData($$"""{"v":"2","add":"vm.example","port":"443","id":"{{Uuid}}","net":"http","path":"/h","tls":"tls"}""")]
    [InlineData($$"""{"v":"2","add":"vm.example","port":"443","id":"{{Uuid}}","net":"httpupgrade","host":"cdn.example","path":"/up","tls":"tls"}""")]
    public void Link_WrittenBack_ReimportsToTheSameOutbound(string json)
    {
        var first = ShareLinks.Parse(Link(json), "fallback");
        string written = ShareLinkWriter.Write(first)!;
        var second = ShareLinks.Parse(written, "other");

        Assert.True(JsonNode.DeepEquals(first, second), $"{first.ToJsonString()}\n{written}\n{second.ToJsonString()}");
        Assert.Empty(ConfigLoader.Validate($$"""{"outbounds":[{{first.ToJsonString()}}]}"""));
    }

    [Fact]
    public void Link_WithoutPs_TakesTheFallbackName_AndAHashNameWins()
    {
        string json = $$"""{"add":"vm.example","port":"443","id":"{{Uuid}}"}""";

        Assert.Equal("fallback", (string?)ShareLinks.Parse(Link(json), "fallback")["tag"]);
        Assert.Equal("named", (string?)ShareLinks.Parse(Link(json) + "#named", "fallback")["tag"]);
    }

    [Theory]
    [InlineData($$"""{"add":"a.example","port":"443","id":"{{Uuid}}","aid":"64"}""", "aid 64: the legacy MD5/timestamp header")]
    [InlineData($$"""{"add":"a.example","port":"443","id":"{{Uuid}}","net":"kcp"}""", "net \"kcp\" is not supported (tcp, ws, grpc, h2, http, httpupgrade)")]
    [InlineData($$"""{"add":"a.example","port":"443","id":"{{Uuid}}","type":"http"}""", "type \"http\" (TCP HTTP camouflage) is not supported")]
    [InlineData($$"""{"add":"a.example","port":"443","id":"{{Uuid}}","scy":"aes-128-cfb"}""", "scy \"aes-128-cfb\" is not supported")]
    [InlineData($$"""{"add":"a.example","port":"99999","id":"{{Uuid}}"}""", "\"port\" is not a number in 1..65535")]
    [InlineData("""{"add":"a.example","port":"443","id":"not-a-uuid-secret"}""", "\"id\" is not a UUID")]
    [InlineData("""{"add":"a.example","port":"443","id":"x","id":"y"}""", "is not JSON")]
    [InlineData("[1,2]", "not a JSON object")]
    [InlineData("not json at all", "is not JSON")]
    public void BadLink_IsRefused_NamingTheField_WithoutQuotingTheLink(string json, string expected)
    {
        var e = Assert.Throws<ImportException>(() => ShareLinks.Parse(Link(json), "x"));

        Assert.StartsWith("vmess:// link: ", e.Message, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Uuid, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NotBase64_IsRefused() =>
        Assert.Contains("is not base64", Assert.Throws<ImportException>(() => ShareLinks.Parse("vmess://!!!", "x")).Message, StringComparison.Ordinal);

    [Fact]
    public void Base64Subscription_WithVmessLines_ImportsThem()
    {
        string body = string.Join('\n', WsTls, "ss://YWVzLTEyOC1nY206cHc@192.0.2.1:8388#ss%20one", Link($$"""{"ps":"two","add":"192.0.2.2","port":"443","id":"{{Uuid}}"}"""));

        var servers = SubscriptionBody.Parse(Convert.ToBase64String(Encoding.UTF8.GetBytes(body)), "sub");

        Assert.Equal(["SG 01", "ss one", "two"], servers.Outbounds.Select(o => (string?)o["tag"]));
        Assert.Empty(servers.Notes);
    }

    [Fact]
    public void LinksExport_NamesTheFieldsAVmessLinkCannotCarry()
    {
        string config = $$"""{"outbounds":[{"type":"vmess","tag":"vm","server":"vm.example","server_port":443,"uuid":"{{Uuid}}","global_padding":true}]}""";
        var skipped = new List<string>();

        string links = ShareLinkWriter.WriteAll(config, skipped);

        Assert.StartsWith("vmess://", links, StringComparison.Ordinal);
        Assert.Contains("global_padding", Assert.Single(skipped), StringComparison.Ordinal);
    }

    [Fact]
    public void ClashVmess_WsTls_BecomesAVmessOutbound()
    {
        string yaml = $$"""
            proxies:
              - name: vm
                type: vmess
                server: vm.example
                port: 443
                uuid: {{Uuid}}
                alterId: 0
                cipher: chacha20-poly1305
                tls: true
                servername: cdn.example
                skip-cert-verify: true
                client-fingerprint: firefox
                udp: false
                network: ws
                ws-opts:
                  path: /vm
                  headers: {Host: cdn.example}
              - {name: old, type: vmess, server: old.example, port: 443, uuid: {{Uuid}}, alterId: 32, cipher: auto}
            """;

        var result = ClashYaml.Parse(yaml, "clash.yaml");

        var o = Assert.Single(result.Outbounds);
        Assert.Equal("chacha20-poly1305", (string?)o["security"]);
        Assert.Equal("cdn.example", (string?)o["tls"]!["server_name"]);
        Assert.True((bool?)o["tls"]!["insecure"]);
        Assert.Equal("firefox", (string?)o["tls"]!["utls"]!["fingerprint"]);
        Assert.Equal("tcp", (string?)o["network"]);
        Assert.Equal("/vm", (string?)o["transport"]!["path"]);
        Assert.Empty(ConfigLoader.Validate($$"""{"outbounds":[{{o.ToJsonString()}}]}"""));
        var note = Assert.Single(result.Notes);
        Assert.Contains("\"old\"", note, StringComparison.Ordinal);
        Assert.Contains("alterId 32", note, StringComparison.Ordinal);
    }
}
