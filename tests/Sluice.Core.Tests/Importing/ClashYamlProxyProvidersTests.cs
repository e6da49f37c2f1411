using System.Text.Json.Nodes;
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

    /// <summary>The servers of <paramref name="names"/> (one of each type given) that a subscription's filter lets into its group, in order.</summary>
    private static string[] Passing(SubscriptionOptions s, params string[] names) =>
        s.Filter.Apply(names.Select(n => new JsonObject { ["tag"] = n.Split('/')[0], ["type"] = n.Contains('/') ? n.Split('/')[1] : "shadowsocks" }).ToList())
            .Select(o => (string)o["tag"]!).ToArray();

    [Fact]
    public void GroupsUsingAProvider_AreFedBySubscriptions_ThatPassTheProvidersAndTheGroupsFilters()
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
        // The provider keeps HK|JP (case matters), the group (?i)hk of those; Auto only the provider's.
        Assert.Equal(["HK 01"], Passing(config.Subscriptions[0], "US 01", "HK 01", "JP 01", "hk-lower"));
        Assert.Equal(["HK 01", "JP 01"], Passing(config.Subscriptions[1], "US 01", "HK 01", "JP 01", "hk-lower"));
        var select = Assert.IsType<GroupOutboundOptions>(config.Outbounds.Single(o => o.Tag == "节点选择"));
        Assert.Equal(("selector", 0), (select.GroupType, select.Members.Count));
        Assert.Equal("urltest", Assert.IsType<GroupOutboundOptions>(config.Outbounds.Single(o => o.Tag == "Auto")).GroupType);
        // A group whose only provider could not be imported has nothing to carry: dropped, and left out where named.
        Assert.DoesNotContain(config.Outbounds, o => o.Tag == "OnlyPlain");
        Assert.Equal(["节点选择", "Auto", "direct"], Assert.IsType<GroupOutboundOptions>(config.Outbounds.Single(o => o.Tag == "Final")).Members);
        Assert.Equal("Final", config.Route.Final);

        string notes = string.Join("\n", result.Notes);
        Assert.Contains("line 3: proxy provider \"airport\": health-check (the group's own probes test its members) not carried over", notes);
        Assert.Contains("line 10: proxy provider \"plain\" skipped: its url \"http://plain.example.com/sub\" is not https://", notes);
        Assert.Contains("line 13: proxy provider \"local\" skipped: ", notes);
        Assert.Contains("group \"Auto\": provider \"local\" left out (not imported)", notes);
        Assert.Contains("group \"OnlyPlain\": provider \"plain\" left out (not imported)", notes);
    }

    [Fact]
    public void AGroupWithItsOwnProxies_AndSeveralProviders_HasThemAll_OwnFirstThenEachProviderInOrder()
    {
        const string yaml = """
            proxies:
              - {name: hk, type: ss, server: hk.example, port: 8388, cipher: aes-128-gcm, password: pw}
              - {name: "info: expires soon", type: ss, server: info.example, port: 8388, cipher: aes-128-gcm, password: pw}
            proxy-providers:
              zeta: {type: http, url: "https://z.example.com/s", exclude-type: "vless"}
              airport: {type: http, url: "https://sub.example.com/s", interval: 600}
            proxy-groups:
              - {name: Mixed, type: select, proxies: [hk, "info: expires soon"], use: [zeta, airport], exclude-filter: "^info"}
              - {name: Everything, type: fallback, include-all: true, exclude-type: "Shadowsocks"}
            """;
        var result = ClashYaml.ParseConfig(yaml, "profile.yaml");

        var config = ConfigLoader.Load(result.Json);
        // exclude-filter leaves out any member, the group's own proxies too, as in mihomo.
        Assert.Equal(["hk"], Assert.IsType<GroupOutboundOptions>(config.Outbounds.Single(o => o.Tag == "Mixed")).Members);
        var mixed = config.Subscriptions.Where(s => s.Group == "Mixed").ToArray();
        Assert.Equal(["https://z.example.com/s", "https://sub.example.com/s"], mixed.Select(s => s.Url.ToString()));
        Assert.Equal(["a"], Passing(mixed[0], "a", "b/vless", "info 1"));
        Assert.Equal(["a", "b"], Passing(mixed[1], "a", "b/vless", "info 1"));
        // include-all: every proxy (here all Shadowsocks, excluded by type) and every provider, in name order.
        var everything = config.Subscriptions.Where(s => s.Group == "Everything").ToArray();
        Assert.Equal(["https://sub.example.com/s", "https://z.example.com/s"], everything.Select(s => s.Url.ToString()));
        Assert.Equal(["b", "c"], Passing(everything[0], "a", "b/vless", "c/socks"));
        Assert.Equal(["c"], Passing(everything[1], "a", "b/vless", "c/socks")); // zeta's own exclude-type too
        Assert.Empty(Assert.IsType<GroupOutboundOptions>(config.Outbounds.Single(o => o.Tag == "Everything")).Members);
        Assert.DoesNotContain(result.Notes, n => n.Contains("use", StringComparison.Ordinal) || n.Contains("include-all", StringComparison.Ordinal));
    }

    [Fact]
    public void FileAndInlineProviders_AreReadAtImport_AndTheirFilteredServersJoinTheGroup()
    {
        var dir = Directory.CreateTempSubdirectory("sluice-import-");
        try
        {
            Directory.CreateDirectory(Path.Combine(dir.FullName, "providers"));
            File.WriteAllText(Path.Combine(dir.FullName, "providers", "local.yaml"), """
                proxies:
                  - {name: "HK file", type: trojan, server: 192.0.2.10, port: 443, password: pw, sni: example.com}
                  - {name: "US file", type: ss, server: 192.0.2.11, port: 8388, cipher: aes-128-gcm, password: pw}
                """);
            string profile = Path.Combine(dir.FullName, "profile.yaml");
            const string yaml = """
                proxies:
                  - {name: "HK file", type: ss, server: 192.0.2.1, port: 8388, cipher: aes-128-gcm, password: pw}
                proxy-providers:
                  local: {type: file, path: ./providers/local.yaml}
                  mine:
                    type: inline
                    payload:
                      - {name: "HK inline", type: socks5, server: 192.0.2.20, port: 1080}
                      - {name: "JP inline", type: socks5, server: 192.0.2.21, port: 1080}
                proxy-groups:
                  - {name: HK, type: url-test, use: [mine, local], filter: "HK"}
                """;
            var result = ClashYaml.ParseConfig(yaml, profile);

            var config = ConfigLoader.Load(result.Json);
            Assert.Empty(config.Subscriptions);
            // The file's "HK file" is renamed beside the profile's own proxy of that name.
            Assert.Equal(["HK inline", "HK file-2"], Assert.IsType<GroupOutboundOptions>(config.Outbounds.Single(o => o.Tag == "HK")).Members);
            var fromFile = config.Outbounds.Single(o => o.Tag == "HK file-2");
            Assert.Equal("trojan", fromFile.Type);
            Assert.Contains(config.Outbounds, o => o.Tag == "US file");

            // The same profile fetched from a URL names no file the importer reads.
            var remote = ClashYaml.ParseConfig(yaml, "https://example.com/profile.yaml");
            Assert.Contains(remote.Notes, n => n.Contains("proxy provider \"local\" skipped: its path \"./providers/local.yaml\" is a file named by a config that is not a local file", StringComparison.Ordinal));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void AProvidersHeaderAndOverride_BecomeTheSubscriptionsHeadersAndOverride_WhatHasNoCounterpartIsNoted()
    {
        var result = ClashYaml.ParseConfig("""
            proxies:
              - {name: relay, type: socks5, server: 192.0.2.50, port: 1080}
            proxy-providers:
              a:
                type: http
                url: "https://a.example/sub"
                header: {User-Agent: [clash.meta], Authorization: ["token 1"]}
                override:
                  additional-prefix: "[A] "
                  additional-suffix: " *"
                  proxy-name: [{pattern: "IPLC-(.*?)x", target: "iplc $1"}]
                  dialer-proxy: relay
                  udp: false
                  skip-cert-verify: true
                  tfo: true
                  routing-mark: 233
            proxy-groups:
              - {name: HK, type: select, use: [a], filter: "^\\[A\\] HK"}
            rules:
              - MATCH,HK
            """, "profile.yaml");

        Assert.Empty(ConfigLoader.Validate(result.Json));
        var s = Assert.Single(ConfigLoader.Load(result.Json).Subscriptions);
        Assert.Equal(["User-Agent: clash.meta", "Authorization: token 1"], s.Headers.Select(h => $"{h.Key}: {h.Value}"));
        Assert.Equal(("[A] ", " *", "relay", false, true), (s.Override.TagPrefix, s.Override.TagSuffix, s.Override.Detour, s.Override.Udp, s.Override.TlsInsecure));
        // The group's filter sees the renamed servers, as in mihomo.
        var fed = s.Filter.Apply(s.Override.Apply([
            new JsonObject { ["tag"] = "HK IPLC-2x", ["type"] = "trojan" }, new JsonObject { ["tag"] = "SG 1", ["type"] = "trojan" }]));
        Assert.Equal(["[A] HK iplc 2 *"], fed.Select(o => (string)o["tag"]!));
        Assert.Contains(result.Notes, n => n.Contains("proxy provider \"a\": override.tfo, override.routing-mark not carried over", StringComparison.Ordinal));
    }

    [Fact]
    public void AFileProvidersOverride_IsAppliedAtImport_AfterItsOwnFilter_AsMihomoDoes()
    {
        var dir = Directory.CreateTempSubdirectory();
        try
        {
            File.WriteAllText(Path.Combine(dir.FullName, "local.yaml"), """
                proxies:
                  - {name: HK 1, type: ss, server: 192.0.2.1, port: 8388, cipher: aes-128-gcm, password: pw}
                  - {name: JP 1, type: ss, server: 192.0.2.2, port: 8388, cipher: aes-128-gcm, password: pw}
                """);
            string profile = Path.Combine(dir.FullName, "profile.yaml");
            File.WriteAllText(profile, """
                proxy-providers:
                  local: {type: file, path: ./local.yaml, filter: "^HK", override: {additional-prefix: "L/", udp: false}}
                proxy-groups:
                  - {name: G, type: select, use: [local]}
                rules:
                  - MATCH,G
                """);

            var result = ClashYaml.ParseConfig(File.ReadAllText(profile), profile);

            var config = ConfigLoader.Load(result.Json);
            var server = Assert.IsType<ShadowsocksOutboundOptions>(Assert.Single(config.Outbounds, o => o.Type == "shadowsocks"));
            Assert.Equal(("L/HK 1", ProxyNetwork.Tcp), (server.Tag, server.Network)); // filtered by its listed name, then renamed
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void AProfileWithNoUsableProviderOrProxy_IsAnErrorNamingTheFirstProblem()
    {
        const string yaml = """
            proxy-providers:
              local: {type: ftp, path: ./local.yaml}
            proxy-groups:
              - {name: G, type: select, use: [local]}
            """;
        var error = Assert.Throws<ImportException>(() => ClashYaml.ParseConfig(yaml, "profile.yaml"));
        Assert.Contains("proxy provider \"local\" skipped: type \"ftp\" is not a provider Sluice knows", error.Message);
    }

    [Fact]
    public void AFilterSluiceCannotRead_LeavesTheProviderOut_NotWidensTheGroup()
    {
        const string yaml = """
            proxies:
              - {name: hk, type: ss, server: hk.example, port: 8388, cipher: aes-128-gcm, password: pw}
            proxy-providers:
              airport: {type: http, url: "https://sub.example.com/s", filter: "(?<bad"}
            proxy-groups:
              - {name: G, type: select, proxies: [hk], use: [airport]}
            """;
        var result = ClashYaml.ParseConfig(yaml, "profile.yaml");

        Assert.Empty(ConfigLoader.Load(result.Json).Subscriptions);
        Assert.Contains(result.Notes, n => n.Contains("proxy provider \"airport\" skipped: its filter \"(?<bad\" is not a regular expression Sluice reads", StringComparison.Ordinal));
    }
}
