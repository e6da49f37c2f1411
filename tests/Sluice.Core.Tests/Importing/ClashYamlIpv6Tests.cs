using Sluice.Core.Configuration;
using Sluice.Core.Dns;
using Sluice.Core.Flows;
using Sluice.Core.Importing;
using Sluice.Core.Routing;
using Sluice.Core.Tests.Dns;
using Sluice.Packets;

namespace Sluice.Core.Tests.Importing;

/// <summary>
/// mihomo's ipv6 switches in an imported profile: what its DNS answers and where its IPv6 flows go, asked of the
/// imported config's own DNS server (against a local responder) and router.
/// </summary>
public sealed class ClashYamlIpv6Tests
{
    private static SluiceConfig Import(string general, string dnsIpv6, int port) => ConfigLoader.Load(ClashYaml.ParseConfig($$"""
        {{general}}
        proxies:
          - {name: hk, type: ss, server: hk.example, port: 8388, cipher: aes-128-gcm, password: pw}
          - {name: v6, type: ss, server: v6.example, port: 8388, cipher: aes-128-gcm, password: pw, ip-version: ipv6}
        dns:
          enable: true
          {{dnsIpv6}}
          nameserver: ["udp://127.0.0.1:{{port}}"]
        tun: {enable: true, dns-hijack: ["any:53"]}
        rules:
          - MATCH,hk
        """, "profile.yaml").Json);

    private static RouteDecision Decide(SluiceConfig config, string source, string destination, ushort port = 443) =>
        Router.Compile(config.Route, config.Outbounds.Select(o => o.Tag).ToArray(), config.DefaultOutbound)
            .Decide(new FlowContext(new FlowKey(IpProtocol.Tcp, NetAddress.Parse(source), 40000, NetAddress.Parse(destination), port), "tun-in", _ => null));

    [Fact]
    public async Task Ipv6Off_AnswersNoAaaa_RefusesIpv6Flows_AndDialsNamesOverIpv4Only()
    {
        await using var up = new DnsResponder();
        var config = Import("ipv6: false", "ipv6: true", up.Port);
        await using var server = DnsKit.Server(config.Dns);

        var aaaa = await server.Ask("dual.example", DnsType.AAAA);
        Assert.Equal((0, 0), (Msg.Rcode(aaaa), Msg.Count(aaaa, 1)));
        Assert.Equal(0, up.Count); // not even asked
        await server.Ask("dual.example", DnsType.A);
        Assert.Equal(1, up.Count);

        Assert.Equal(Verdict.Reject, Decide(config, "fdfe:dcba:9876::1", "2001:db8::1").Verdict);
        Assert.Equal(Verdict.HijackDns, Decide(config, "fdfe:dcba:9876::1", "2001:db8::53", 53).Verdict); // lookups are still answered
        Assert.Equal(("hk", Verdict.Route), (Decide(config, "172.19.0.1", "192.0.2.1").Outbound, Decide(config, "172.19.0.1", "192.0.2.1").Verdict));

        Assert.Equal(DnsStrategy.Ipv4Only, Assert.IsType<DirectOutboundOptions>(config.Outbounds.Single(o => o.Tag == "direct")).DomainStrategy);
        Assert.Equal(DnsStrategy.Ipv4Only, Assert.IsType<ShadowsocksOutboundOptions>(config.Outbounds.Single(o => o.Tag == "hk")).Server.DomainStrategy);
        // A proxy's own ip-version stays its own.
        Assert.Equal(DnsStrategy.Ipv6Only, Assert.IsType<ShadowsocksOutboundOptions>(config.Outbounds.Single(o => o.Tag == "v6")).Server.DomainStrategy);
    }

    [Theory]
    [InlineData("", 0)] // mihomo's dns.ipv6 defaults to false: AAAA is answered empty
    [InlineData("ipv6: false", 0)]
    [InlineData("ipv6: true", 1)]
    public async Task DnsIpv6_DecidesWhetherAaaaIsAsked_AndIpv6FlowsStillGoThroughTheRules(string dnsIpv6, int asked)
    {
        await using var up = new DnsResponder();
        var config = Import("ipv6: true", dnsIpv6, up.Port);
        await using var server = DnsKit.Server(config.Dns);

        await server.Ask("dual.example", DnsType.AAAA);

        Assert.Equal(asked, up.Count);
        Assert.Equal(("hk", Verdict.Route), (Decide(config, "fdfe:dcba:9876::1", "2001:db8::1").Outbound, Decide(config, "fdfe:dcba:9876::1", "2001:db8::1").Verdict));
        Assert.Null(Assert.IsType<DirectOutboundOptions>(config.Outbounds.Single(o => o.Tag == "direct")).DomainStrategy);
    }
}
