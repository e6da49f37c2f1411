using System.Text.Json.Nodes;
using Sluice.Core.Configuration;
using Sluice.Core.Subscriptions;

namespace Sluice.Core.Tests.Subscriptions;

/// <summary>What a subscription's override changes in its servers, and how the config reads and checks it.</summary>
public sealed class ServerOverrideTests
{
    private static List<JsonObject> Servers(params string[] json) => json.Select(j => JsonNode.Parse(j)!.AsObject()).ToList();

    [Fact]
    public void Tags_AreReplacedInTurn_ThenPrefixedAndSuffixed_AndTagsMadeEqualAreToldApart()
    {
        var change = new ServerOverride("[A] ", " |x", [new TagReplacement(@"IPLC-(\d+)x", "iplc $1"), new TagReplacement(@"\s+", " ")], null, null, false);
        var servers = Servers("""{"type": "shadowsocks", "tag": "HK  IPLC-2x"}""", """{"type": "shadowsocks", "tag": "HK IPLC-2x"}""", """{"type": "trojan", "tag": "SG"}""");

        var result = change.Apply(servers);

        Assert.Equal(["[A] HK iplc 2 |x", "[A] HK iplc 2 |x-2", "[A] SG |x"], result.Select(s => (string)s["tag"]!));
        Assert.Equal("HK  IPLC-2x", (string)servers[0]["tag"]!); // the input is left alone (the next fetch compares against it)
    }

    [Fact]
    public void Detour_Udp_AndTlsInsecure_ReachTheServersThatHaveSuchFields()
    {
        var change = new ServerOverride(null, null, [], "relay", udp: false, tlsInsecure: true);
        var servers = Servers(
            """{"type": "trojan", "tag": "t", "tls": {"enabled": true, "server_name": "a.example"}}""",
            """{"type": "shadowsocks", "tag": "s", "detour": "other"}""",
            """{"type": "http", "tag": "h", "tls": {"enabled": false}}""",
            """{"type": "wireguard", "tag": "w"}""");

        var result = change.Apply(servers);

        Assert.Equal(["relay", "relay", "relay", null], result.Select(s => (string?)s["detour"]));
        Assert.Equal(["tcp", "tcp", null, null], result.Select(s => (string?)s["network"]));
        Assert.True((bool)result[0]["tls"]!["insecure"]!);
        Assert.Null(result[2]["tls"]!["insecure"]); // TLS off: nothing to skip
    }

    [Fact]
    public void NoOverride_ReturnsTheServersAsTheyAre()
    {
        var servers = Servers("""{"type": "shadowsocks", "tag": "s"}""");
        Assert.Same(servers, ServerOverride.None.Apply(servers));
        Assert.True(new ServerOverride(null, null, [], null, udp: true, false).IsNone);
    }

    private static string Config(string subscription) => $$"""
        {
          "outbounds": [{"type": "direct", "tag": "direct"}, {"type": "selector", "tag": "relay", "outbounds": ["direct"]},
                        {"type": "urltest", "tag": "auto", "outbounds": []}, {"type": "selector", "tag": "outer", "outbounds": ["auto", "direct"]}],
          "subscriptions": [{{subscription}}],
          "route": {"final": "auto"}
        }
        """;

    [Fact]
    public void Config_ReadsOverrideAndHeaders()
    {
        var config = ConfigLoader.Load(Config("""
            {"tag": "p", "url": "https://sub.example/list", "group": "auto",
             "override": {"tag_prefix": "[P] ", "tag_suffix": "!", "tag_replace": [{"pattern": "^(\\w+)-(\\d+)$", "replacement": "$2 $1"}],
                          "detour": "relay", "udp": false, "tls_insecure": true},
             "headers": {"User-Agent": "clash.meta", "X-Token": ["a", "b"]}}
            """));

        var s = Assert.Single(config.Subscriptions);
        Assert.Equal(("[P] ", "!", "relay", false, true), (s.Override.TagPrefix, s.Override.TagSuffix, s.Override.Detour, s.Override.Udp, s.Override.TlsInsecure));
        Assert.Equal([new TagReplacement("^(\\w+)-(\\d+)$", "$2 $1")], s.Override.TagReplace);
        Assert.Equal(["User-Agent: clash.meta", "X-Token: a", "X-Token: b"], s.Headers.Select(h => $"{h.Key}: {h.Value}"));
    }

    [Theory]
    [InlineData("""{"tag_replace": [{"pattern": "(unclosed"}]}""", "subscriptions[0].override.tag_replace[0].pattern", "is not a valid regular expression")]
    [InlineData("""{"tag_replace": [{"replacement": "x"}]}""", "subscriptions[0].override.tag_replace[0].pattern", "required")]
    [InlineData("""{"detour": "nope"}""", "subscriptions[0].override.detour", "no outbound has tag")]
    [InlineData("""{"detour": "outer"}""", "subscriptions[0].override.detour", "would be dialed through themselves")]
    [InlineData("""{"detour": "auto"}""", "subscriptions[0].override.detour", "would be dialed through themselves")]
    [InlineData("""{"udp": "no"}""", "subscriptions[0].override.udp", "a boolean")]
    [InlineData("""{"additional-prefix": "x"}""", "subscriptions[0].override.additional-prefix", "unknown field")]
    public void BadOverride_NamesThePath(string change, string path, string problem)
    {
        var errors = ConfigLoader.Validate(Config($$"""{"tag": "p", "url": "https://sub.example/list", "group": "auto", "override": {{change}}}"""));

        Assert.Contains(errors, e => e.Path == path && e.Message.Contains(problem));
    }

    [Fact]
    public void Headers_WithALineBreak_OrTooMany_AreRefused()
    {
        var broken = ConfigLoader.Validate(Config("""{"tag": "p", "url": "https://sub.example/list", "group": "auto", "headers": {"User-Agent": "a\r\nX: y"}}"""));
        Assert.Contains(broken, e => e.Path == "subscriptions[0].headers.User-Agent" && e.Message.Contains("line breaks"));

        string many = string.Join(", ", Enumerable.Range(0, 33).Select(i => $"\"X-{i}\": \"v\""));
        var tooMany = ConfigLoader.Validate(Config("""{"tag": "p", "url": "https://sub.example/list", "group": "auto", "headers": {""" + many + "}}"));
        Assert.Contains(tooMany, e => e.Path == "subscriptions[0].headers" && e.Message.Contains("at most 32"));
    }
}
