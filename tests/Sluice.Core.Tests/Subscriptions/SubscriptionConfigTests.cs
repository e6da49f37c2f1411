using Sluice.Core.Configuration;

namespace Sluice.Core.Tests.Subscriptions;

public sealed class SubscriptionConfigTests
{
    private static string Config(string subscriptions, string groupMembers = "[]", string groupType = "urltest") => $$"""
        {
          "outbounds": [{"type": "direct", "tag": "direct"}, {"type": "{{groupType}}", "tag": "auto", "outbounds": {{groupMembers}}}],
          "subscriptions": [{{subscriptions}}],
          "route": {"final": "auto"}
        }
        """;

    [Fact]
    public void Subscription_FeedsAnEmptyGroup_WithDefaults()
    {
        var config = ConfigLoader.Load(Config("""{"tag": "provider", "url": "https://sub.example/list", "group": "auto"}"""));

        var s = Assert.Single(config.Subscriptions);
        Assert.Equal(("provider", "https://sub.example/list", "auto"), (s.Tag, s.Url.ToString(), s.Group));
        Assert.Equal(TimeSpan.FromHours(1), s.Interval);
        Assert.Equal("/var/lib/sluice/subscriptions/provider.txt", s.CachePath);
        Assert.Equal(TimeSpan.FromSeconds(30), s.Timeout);
        Assert.False(s.Insecure);
        Assert.Null(s.CaFile);
    }

    [Fact]
    public void EmptyGroup_WithoutSubscription_IsAnError()
    {
        var errors = ConfigLoader.Validate(Config(""));

        var e = Assert.Single(errors);
        Assert.Equal("outbounds[1].outbounds", e.Path);
        Assert.Contains("feed it from a subscription", e.Message);
    }

    [Theory]
    [InlineData("""{"tag": "p", "url": "http://sub.example/list", "group": "auto"}""", "subscriptions[0].url", "not an https:// URL")]
    [InlineData("""{"tag": "p", "url": "https://sub.example/list", "group": "direct"}""", "subscriptions[0].group", "not a selector/urltest/fallback group")]
    [InlineData("""{"tag": "p", "url": "https://sub.example/list", "group": "nope"}""", "subscriptions[0].group", "no outbound has tag")]
    [InlineData("""{"tag": "../x", "url": "https://sub.example/list", "group": "auto"}""", "subscriptions[0].tag", "plain name")]
    [InlineData("""{"tag": "p", "url": "https://sub.example/list", "group": "auto", "interval": "100ms"}""", "subscriptions[0].interval", "at least 1s")]
    [InlineData("""{"tag": "p", "url": "https://sub.example/list", "group": "auto", "ca_file": "/nonexistent/ca.pem"}""", "subscriptions[0].ca_file", "does not exist")]
    public void BadSubscription_NamesThePath(string subscription, string path, string problem)
    {
        var errors = ConfigLoader.Validate(Config(subscription, groupMembers: "[\"direct\"]"));

        Assert.Contains(errors, e => e.Path == path && e.Message.Contains(problem));
    }

    [Fact]
    public void ApiConfig_NamingACachePath_IsRefused_AndItsCacheLivesUnderTheStateDirectory()
    {
        var origin = ConfigOrigin.Api("/srv/sluice-state");
        var errors = ConfigLoader.Validate(Config("""{"tag": "p", "url": "https://sub.example/list", "group": "auto", "cache_path": "/etc/cron.d/x"}"""), origin);
        Assert.Contains(errors, e => e.Path == "subscriptions[0].cache_path" && e.Message.Contains("cannot choose a file the daemon writes"));

        var config = ConfigLoader.Load(Config("""{"tag": "p", "url": "https://sub.example/list", "group": "auto"}"""), origin);
        Assert.Equal("/srv/sluice-state/subscriptions/p.txt", Assert.Single(config.Subscriptions).CachePath);
    }

    [Fact]
    public void SeveralSubscriptions_MayFeedOneGroup_EachWithItsOwnFilter()
    {
        var config = ConfigLoader.Load(Config("""
            {"tag": "a", "url": "https://a.example/", "group": "auto", "filter": ["HK", "(?i)^sg"], "exclude_type": "vless"},
            {"tag": "b", "url": "https://b.example/", "group": "auto", "exclude_filter": "^(?!.*\\d)"}
            """));

        Assert.Equal(["a", "b"], config.Subscriptions.Select(s => s.Tag));
        Assert.Equal(["HK", "(?i)^sg"], config.Subscriptions[0].Filter.Filter);
        Assert.Equal(["vless"], config.Subscriptions[0].Filter.ExcludeType);
        Assert.Equal(["^(?!.*\\d)"], config.Subscriptions[1].Filter.ExcludeFilter);
    }

    [Theory]
    [InlineData("\"filter\": [\"ok\", \"(unclosed\"]", "subscriptions[0].filter[1]", "\"(unclosed\" is not a valid regular expression")]
    [InlineData("\"exclude_filter\": \"[z-a]\"", "subscriptions[0].exclude_filter", "is not a valid regular expression")]
    [InlineData("\"exclude_type\": [\"ss\"]", "subscriptions[0].exclude_type[0]", "\"ss\" is not a server type (one of direct, block, shadowsocks")]
    public void BadFilter_NamesThePathAndTheProblem(string field, string path, string problem)
    {
        var errors = ConfigLoader.Validate(Config($$"""{"tag": "p", "url": "https://sub.example/list", "group": "auto", {{field}}}""", groupMembers: "[\"direct\"]"));

        var e = Assert.Single(errors);
        Assert.Equal(path, e.Path);
        Assert.Contains(problem, e.Message);
    }
}
