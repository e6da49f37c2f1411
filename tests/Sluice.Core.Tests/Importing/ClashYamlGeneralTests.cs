using Sluice.Core.Configuration;
using Sluice.Core.Importing;
using Sluice.Core.Routing;
using Sluice.Packets;

namespace Sluice.Core.Tests.Importing;

/// <summary>
/// `sluice import` of a mihomo profile's general keys: the dashboard keeps its address, secret and origins, the mode
/// switch means what it means in mihomo (global: everything to the final group; direct: everything direct), and every
/// top-level key Sluice does not read is named.
/// </summary>
public sealed class ClashYamlGeneralTests
{
    private const string Profile = """
        mixed-port: 7890
        mode: global
        log-level: warning
        ipv6: true
        unified-delay: true
        external-controller: :9090
        secret: "dashboard-secret"
        external-controller-cors:
          allow-origins: ["https://metacubex.github.io"]
          allow-private-network: true
        profile: {store-selected: true, store-fake-ip: true}
        proxies:
          - {name: hk, type: ss, server: hk.example, port: 8388, cipher: aes-128-gcm, password: pw}
        proxy-groups:
          - {name: Proxy, type: select, proxies: [hk, DIRECT]}
        rules:
          - DOMAIN-SUFFIX,cn.example,DIRECT
          - MATCH,Proxy
        """;

    [Fact]
    public void TheDashboardKeepsItsAddressSecretAndOrigins_AndTheModeAndStoreCarryOver()
    {
        var result = ClashYaml.ParseConfig(Profile, "profile.yaml");

        Assert.Empty(ConfigLoader.Validate(result.Json));
        var config = ConfigLoader.Load(result.Json);
        var clash = config.Experimental.ClashApi!;
        Assert.Equal(("0.0.0.0:9090", "dashboard-secret", "global"), (clash.ExternalController, clash.Secret, clash.DefaultMode));
        Assert.Equal(["https://metacubex.github.io"], clash.Dashboard.AllowOrigins);
        Assert.True(clash.Dashboard.AllowPrivateNetwork);
        Assert.True(config.Experimental.CacheFile is { StoreFakeIp: true });
        Assert.Equal("warn", config.Log.Level);
        Assert.Contains("profile.yaml: not carried over (Sluice has no such setting or sets it itself): unified-delay", string.Join("\n", result.Notes));
    }

    [Fact]
    public void GlobalClientFingerprint_ShapesEveryTlsProxyWithoutItsOwn()
    {
        const string yaml = """
            global-client-fingerprint: chrome
            proxies:
              - {name: v, type: vless, server: v.example, port: 443, uuid: b831381d-6324-4d53-ad4f-8cda48b30811, tls: true, servername: v.example}
              - {name: t, type: trojan, server: t.example, port: 443, password: pw, sni: t.example, client-fingerprint: firefox}
              - {name: s, type: ss, server: s.example, port: 8388, cipher: aes-128-gcm, password: pw}
            """;
        var result = ClashYaml.ParseConfig(yaml, "profile.yaml");

        Assert.Empty(ConfigLoader.Validate(result.Json));
        var outbounds = System.Text.Json.Nodes.JsonNode.Parse(result.Json)!["outbounds"]!.AsArray();
        string? Fingerprint(string tag) => (string?)outbounds.Single(o => (string?)o!["tag"] == tag)!["tls"]?["utls"]?["fingerprint"];
        Assert.Equal(("chrome", "firefox", null), (Fingerprint("v"), Fingerprint("t"), Fingerprint("s")));
        Assert.DoesNotContain(result.Notes, n => n.Contains("global-client-fingerprint", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("rule", "direct", "Proxy")]
    [InlineData("global", "Proxy", "Proxy")]
    [InlineData("direct", "direct", "direct")]
    public void EachMode_RoutesAsMihomoDoes(string mode, string cnGoesTo, string otherGoesTo)
    {
        var config = ConfigLoader.Load(ClashYaml.ParseConfig(Profile, "profile.yaml").Json);
        var router = Router.Compile(config.Route, config.Outbounds.Select(o => o.Tag).ToArray(), config.DefaultOutbound,
            RuleScope.Empty with { Mode = new ClashModeState(mode) });
        string Decide(string domain) => router.Decide(new FlowContext(
            new FlowKey(IpProtocol.Tcp, NetAddress.Parse("172.19.0.1"), 40000, NetAddress.Parse("198.51.100.7"), 443), "tun-in", _ => null) { Domain = domain }).Outbound!;

        Assert.Equal(cnGoesTo, Decide("www.cn.example"));
        Assert.Equal(otherGoesTo, Decide("elsewhere.example"));
    }

    [Theory]
    [InlineData("external-controller: 0.0.0.0:9090\nsecret: short\n", "127.0.0.1:9090", "secret not carried over")]
    [InlineData("external-controller: 127.0.0.1:9090\nlog-level: silent\n", "127.0.0.1:9090", null)]
    public void AnApiOnOtherAddressesWithoutAGoodSecret_ListensOnLoopback_AndSaysWhy(string top, string listen, string? note)
    {
        string yaml = top + "proxies:\n  - {name: hk, type: ss, server: hk.example, port: 8388, cipher: aes-128-gcm, password: pw}\n";
        var result = ClashYaml.ParseConfig(yaml, "profile.yaml");

        var config = ConfigLoader.Load(result.Json);
        Assert.Equal(listen, config.Experimental.ClashApi!.ExternalController);
        Assert.Null(config.Experimental.ClashApi.Secret);
        if (note is not null) Assert.Contains(note, string.Join("\n", result.Notes));
        if (top.Contains("silent", StringComparison.Ordinal)) Assert.True(config.Log.Disabled);
    }
}
