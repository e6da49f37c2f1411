using System.Text;
using Sluice.Core.Configuration;
using Sluice.Core.Importing;
using Sluice.Core.Outbounds.WireGuard;

namespace Sluice.Core.Tests.Importing;

/// <summary>YAML merge keys (<c>&lt;&lt;: *anchor</c>), which mihomo profiles use to share a provider's or a group's fields.</summary>
public sealed class ClashYamlMergeTests
{
    [Fact]
    public void MergeKeys_GiveProvidersAndGroupsTheirSharedFields_OwnKeysWin()
    {
        const string yaml = """
            p: &p {type: http, interval: 86400}
            g: &g {type: url-test, interval: 300, tolerance: 50}
            slow: &slow {interval: 900}
            proxy-providers:
              Sub1:
                <<: *p
                url: "https://sub1.example.com/api?token=x"
              Sub2: {<<: *p, url: "https://sub2.example.com/api", interval: 3600}
            proxy-groups:
              - {name: Auto, <<: [*slow, *g], use: [Sub1, Sub2]}
            """;
        var config = ConfigLoader.Load(ClashYaml.ParseConfig(yaml, "profile.yaml").Json);

        Assert.Equal([("Sub1", TimeSpan.FromDays(1)), ("Sub2", TimeSpan.FromHours(1))], config.Subscriptions.Select(s => (s.Tag, s.Interval)));
        var auto = Assert.IsType<GroupOutboundOptions>(config.Outbounds.Single(o => o.Tag == "Auto"));
        // Of two merged mappings the first wins: *slow's interval, *g's type and tolerance.
        Assert.Equal(("urltest", TimeSpan.FromSeconds(900), TimeSpan.FromMilliseconds(50)), (auto.GroupType, auto.Interval, auto.Tolerance));
    }

    [Fact]
    public void AMergeKeyNamingAScalar_IsAnErrorNamingTheLine()
    {
        var error = Assert.Throws<ImportException>(() => ClashYaml.ParseConfig("proxies:\n  - {<<: 5, name: a}\n", "profile.yaml"));

        Assert.Equal("profile.yaml: line 2: a merge key (<<) must name a mapping (an anchor like *name) or a list of them", error.Message);
    }

    [Fact]
    public void AChainOfMergesCopyingTooMuch_IsRefused()
    {
        var yaml = new StringBuilder("a0: &a0 {k0: 0}\n");
        for (int i = 1; i < 600; i++) yaml.Append($"a{i}: &a{i} {{<<: *a{i - 1}, k{i}: {i}}}\n");
        yaml.Append("proxies: []\n");

        var error = Assert.Throws<ImportException>(() => ClashYaml.ParseConfig(yaml.ToString(), "profile.yaml"));

        Assert.Equal($"profile.yaml: merge keys (<<) copy more than {ClashYaml.MaxMergedEntries} entries", error.Message);
    }
}
