using Sluice.Core.Configuration;
using Sluice.Core.Dns;
using Sluice.Core.Tun;

namespace Sluice.Core.Tests.Dns;

/// <summary>dns.client_subnet, a server's and a rule's: the EDNS Client Subnet option (RFC 7871) in upstream queries.</summary>
public class ClientSubnetTests
{
    [Fact]
    public void UpstreamQuery_CarriesTheEcsOption_ByteForByte()
    {
        byte[] name = DnsName.Encode("a.test")!;
        byte[] query = DnsServer.BuildUpstreamQuery(zeroId: true, name, DnsType.A, IpPrefix.Parse("203.0.113.77/24"), out int questionEnd);
        Assert.Equal(12 + name.Length, questionEnd);
        byte[] expected =
        [
            0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, // id 0, RD, 1 question, 1 additional
            0x01, (byte)'a', 0x04, (byte)'t', (byte)'e', (byte)'s', (byte)'t', 0x00, 0x00, 0x01, 0x00, 0x01, // a.test A IN
            0x00, 0x00, 0x29, 0x04, 0xD0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0B, // OPT: root, type 41, size 1232, ttl 0, rdlength 11
            0x00, 0x08, 0x00, 0x07, 0x00, 0x01, 0x18, 0x00, 0xCB, 0x00, 0x71, // ECS: code 8, len 7, IPv4, /24, scope 0, 203.0.113 (host bits gone)
        ];
        Assert.Equal(expected, query);
    }

    [Theory]
    [InlineData("2001:db8:abcd:1234::/56", new byte[] { 0x00, 0x08, 0x00, 0x0B, 0x00, 0x02, 0x38, 0x00, 0x20, 0x01, 0x0D, 0xB8, 0xAB, 0xCD, 0x12 })]
    [InlineData("2001:db8::1/128", new byte[] { 0x00, 0x08, 0x00, 0x14, 0x00, 0x02, 0x80, 0x00, 0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01 })]
    [InlineData("10.1.2.3/0", new byte[] { 0x00, 0x08, 0x00, 0x04, 0x00, 0x01, 0x00, 0x00 })]
    [InlineData("10.1.2.3/13", new byte[] { 0x00, 0x08, 0x00, 0x06, 0x00, 0x01, 0x0D, 0x00, 0x0A, 0x00 })]
    public void EcsOption_TruncatesTheAddressToThePrefix(string prefix, byte[] expected)
    {
        var subnet = IpPrefix.Parse(prefix);
        var option = new byte[EdnsClientSubnet.Length(subnet)];
        Assert.Equal(option.Length, EdnsClientSubnet.Write(option, subnet));
        Assert.Equal(expected, option);
    }

    [Fact]
    public void NoSubnet_LeavesThePlainOpt()
    {
        byte[] query = DnsServer.BuildUpstreamQuery(zeroId: true, DnsName.Encode("a.test")!, DnsType.A, null, out _);
        Assert.Equal([0x00, 0x00, 0x29, 0x04, 0xD0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00], query[^11..]);
    }

    [Fact]
    public async Task RuleOverridesServer_ServerOverridesGlobal_AndAnswersAreCachedPerSubnet()
    {
        await using var plain = new DnsResponder();
        await using var own = new DnsResponder();
        await using var server = DnsKit.Server(new DnsOptions
        {
            ClientSubnet = IpPrefix.Parse("198.51.100.0/24"),
            Servers = [DnsKit.Udp("plain", plain), DnsKit.Udp("own", own) with { ClientSubnet = IpPrefix.Parse("192.0.2.0/24") }],
            Rules =
            [
                new DefaultDnsRuleOptions { Domain = ["ruled.example"], Action = new DnsRouteAction("plain") { ClientSubnet = IpPrefix.Parse("203.0.113.0/24") } },
                new DefaultDnsRuleOptions { Domain = ["own.example"], Action = new DnsRouteAction("own") },
            ],
            Final = "plain",
        });

        await server.Ask("global.example");
        await server.Ask("ruled.example");
        await server.Ask("own.example");

        Assert.Equal("198.51.100.0/24", Subnet(plain.Seen.Single(q => q.Name == "global.example").Raw));
        Assert.Equal("203.0.113.0/24", Subnet(plain.Seen.Single(q => q.Name == "ruled.example").Raw));
        Assert.Equal("192.0.2.0/24", Subnet(own.Seen.Single().Raw));
    }

    [Theory]
    [InlineData("""{"dns":{"client_subnet":"10.0.0.0/33"}}""", "dns.client_subnet", "neither an IP prefix nor an address")]
    [InlineData("""{"dns":{"servers":[{"type":"fakeip","tag":"f","inet4_range":"198.18.0.0/15","client_subnet":"10.0.0.0/8"}]}}""", "dns.servers[0].client_subnet", "sends no queries")]
    [InlineData("""{"dns":{"servers":[{"type":"udp","tag":"u","server":"1.1.1.1"}],"rules":[{"domain":"a","action":"reject","client_subnet":"10.0.0.0/8"}]}}""", "dns.rules[0].client_subnet", "only allowed with \"action\": \"route\"")]
    public void BadClientSubnet_NamesThePath(string json, string path, string phrase)
    {
        var errors = ConfigLoader.Validate(json);
        Assert.Contains(errors, e => e.Path == path && e.Message.Contains(phrase, StringComparison.Ordinal));
    }

    [Fact]
    public void AnAddress_StandsForItsHostPrefix_AtEveryLevel()
    {
        var config = ConfigLoader.Load("""
            {"dns":{"client_subnet":"198.51.100.9",
                    "servers":[{"type":"udp","tag":"u","server":"1.1.1.1","client_subnet":"2001:db8::1"}],
                    "rules":[{"domain":"a.example","server":"u","client_subnet":"203.0.113.0/24"}]}}
            """);
        Assert.Equal(IpPrefix.Parse("198.51.100.9/32"), config.Dns.ClientSubnet);
        Assert.Equal(IpPrefix.Parse("2001:db8::1/128"), config.Dns.Servers[0].ClientSubnet);
        Assert.Equal(IpPrefix.Parse("203.0.113.0/24"), ((DnsRouteAction)config.Dns.Rules[0].Action!).ClientSubnet);
    }

    /// <summary>The ECS option of a query's OPT record, as "address/length"; null when there is none.</summary>
    private static string? Subnet(byte[] query)
    {
        int n = 12;
        while (query[n] != 0) n += query[n] + 1;
        n += 5; // root label of the name, type, class
        n += 11; // OPT fixed part
        for (; n + 4 <= query.Length;)
        {
            int code = (query[n] << 8) | query[n + 1], length = (query[n + 2] << 8) | query[n + 3];
            if (code == 8)
            {
                int family = (query[n + 4] << 8) | query[n + 5], prefix = query[n + 6];
                var bytes = new byte[family == 1 ? 4 : 16];
                query.AsSpan(n + 8, length - 4).CopyTo(bytes);
                return $"{new System.Net.IPAddress(bytes)}/{prefix}";
            }
            n += 4 + length;
        }
        return null;
    }
}
