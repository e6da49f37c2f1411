using Sluice.Core.Configuration;
using Sluice.Core.Importing;
using Sluice.Core.Outbounds.WireGuard;

namespace Sluice.Core.Tests.Importing;

/// <summary>
/// `sluice import` of a mihomo profile built on proxy-providers (the groups' servers come from the provider's URL,
/// not from proxies:): each group that uses a provider is fed by a subscription to that URL, and what a subscription
/// cannot honour is a note naming the line.
/// </summary>
public sealed class ClashYamlProxyProvidersTests
{
    private const string ProviderProfile = """
        mixed-port: 7890
        proxy-providers:
          airport:
            type: http
            url: "https://sub.example.com/api/v1/client/subscribe?token=abc&flag=clash"
            interval: 3600
            path: ./providers/airport.yaml
            filter: "HK|JP"
            health-check: {enable: true, url: "https://cp.example/generate_204", interval: 300}
          plain:
            type: http
            url: "http://plain.example.com/sub"
          local:
            type: file
            path: ./local.yaml
        proxy-groups:
          - {name: 节点选择, type: select, use: [airport], filter: "(?i)hk"}
          - {name: Auto, type: url-test, use: [local, airport, plain], url: "https://cp.example/generate_204", interval: 300}
          - {name: OnlyPlain, type: select, use: [plain]}
          - {name: Final, type: select, proxies: [节点选择, Auto, OnlyPlain, DIRECT]}
        rules:
          - DOMAIN-SUFFIX,cn,DIRECT
          - MATCH,Final
        """;

    [Fact]
    public void GroupsUsingAProvider_AreFedBySubscriptionsToItsUrl_AndTheConfigPasses()
    {
        var result = ClashYaml.ParseConfig(ProviderProfile, "profile.yaml");

        Assert.Empty(ConfigLoader.Validate(result.Json));
        var config = ConfigLoader.Load(result.Json);
        var fed = config.Subscriptions.Select(s => (s.Tag, s.Group, s.Url.ToString(), s.Interval)).ToArray();
        Assert.Equal(
        [
            ("airport", "节点选择", "https://sub.example.com/api/v1/client/subscribe?token=abc&flag=clash", TimeSpan.FromHours(1)),
            ("airport-2", "Auto", "https://sub.example.com/api/v1/client/subscribe?token=abc&flag=clash", TimeSpan.FromHours(1)),
        ], fed);
        var select = Assert.IsType<GroupOutboundOptions>(config.Outbounds.Single(o => o.Tag == "节点选择"));
        Assert.Equal(("selector", 0), (select.GroupType, select.Members.Count));
        Assert.Equal("urltest", Assert.IsType<GroupOutboundOptions>(config.Outbounds.Single(o => o.Tag == "Auto")).GroupType);
        // A group whose only provider could not be imported has nothing to carry: dropped, and left out where named.
        Assert.DoesNotContain(config.Outbounds, o => o.Tag == "OnlyPlain");
        Assert.Equal(["节点选择", "Auto", "direct"], Assert.IsType<GroupOutboundOptions>(config.Outbounds.Single(o => o.Tag == "Final")).Members);
        Assert.Equal("Final", config.Route.Final);

        string notes = string.Join("\n", result.Notes);
        Assert.Contains("line 3: proxy provider \"airport\": filter, health-check", notes);
        Assert.Contains("line 10: proxy provider \"plain\" skipped: its url \"http://plain.example.com/sub\" is not https://", notes);
        Assert.Contains("line 13: proxy provider \"local\" skipped: type file", notes);
        Assert.Contains("group \"Auto\" uses 3 providers; a Sluice group is fed by one: \"airport\"", notes);
        Assert.Contains("group \"OnlyPlain\": none of the providers it uses (plain) could be imported", notes);
        Assert.Contains("group \"节点选择\": filter not applied to the provider's servers", notes);
    }

    [Fact]
    public void AGroupWithItsOwnProxies_KeepsThem_AndItsProvidersAreNoted()
    {
        const string yaml = """
            proxies:
              - {name: hk, type: ss, server: hk.example, port: 8388, cipher: aes-128-gcm, password: pw}
            proxy-providers:
              airport: {type: http, url: "https://sub.example.com/s", interval: 600}
            proxy-groups:
              - {name: Mixed, type: select, proxies: [hk], use: [airport]}
            """;
        var result = ClashYaml.ParseConfig(yaml, "profile.yaml");

        var config = ConfigLoader.Load(result.Json);
        Assert.Empty(config.Subscriptions);
        Assert.Equal(["hk"], Assert.IsType<GroupOutboundOptions>(config.Outbounds.Single(o => o.Tag == "Mixed")).Members);
        Assert.Contains("group \"Mixed\": \"use\" (airport) not imported: a Sluice group is fed by a subscription or lists its members, not both",
            string.Join("\n", result.Notes));
    }

    [Fact]
    public void AProfileWithNoUsableProviderOrProxy_IsAnErrorNamingTheFirstProblem()
    {
        const string yaml = """
            proxy-providers:
              local: {type: file, path: ./local.yaml}
            proxy-groups:
              - {name: G, type: select, use: [local]}
            """;
        var error = Assert.Throws<ImportException>(() => ClashYaml.ParseConfig(yaml, "profile.yaml"));
        Assert.Contains("proxy provider \"local\" skipped: type file", error.Message);
    }
}
