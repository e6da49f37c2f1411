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
    public void TwoSubscriptions_ForOneGroup_IsAnError()
    {
        var errors = ConfigLoader.Validate(Config("""
            {"tag": "a", "url": "https://a.example/", "group": "auto"}, {"tag": "b", "url": "https://b.example/", "group": "auto"}
            """));

        Assert.Contains(errors, e => e.Path == "subscriptions[1].group" && e.Message.Contains("already fed by subscription \"a\""));
    }
}
