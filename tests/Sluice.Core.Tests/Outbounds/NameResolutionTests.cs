using System.Net;
using Sluice.Core.Configuration;
using Sluice.Core.Dns;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.Direct;
using Sluice.Packets;

namespace Sluice.Core.Tests.Outbounds;

/// <summary>A request that names its destination (socks5-hostname, an HTTP proxy request) sent to the direct outbound.</summary>
public sealed class NameResolutionTests
{
    private static readonly IPAddress V4 = IPAddress.Parse("192.0.2.7"), V6 = IPAddress.Parse("2001:db8::7");

    private static async Task<Destination> ResolveAsync(DnsStrategy? strategy, params IPAddress[] addresses)
    {
        var sockets = new PlainSockets();
        sockets.Names["site.example"] = addresses;
        using var direct = new DirectOutbound("direct", DialOptions.Default, sockets, strategy);
        return await NameResolution.ForOutboundAsync(direct, new Destination(default, 443, "site.example"), sockets.Hosts, CancellationToken.None);
    }

    [Theory]
    [InlineData(null, "192.0.2.7")]
    [InlineData(DnsStrategy.PreferIpv4, "192.0.2.7")]
    [InlineData(DnsStrategy.Ipv4Only, "192.0.2.7")]
    [InlineData(DnsStrategy.PreferIpv6, "2001:db8::7")]
    [InlineData(DnsStrategy.Ipv6Only, "2001:db8::7")]
    public async Task DirectOutbound_DialsTheAddressItsDomainStrategyPicks(DnsStrategy? strategy, string dialed)
    {
        var destination = await ResolveAsync(strategy, V4, V6);

        Assert.Equal(NetAddress.Parse(dialed), destination.Address);
        Assert.Equal("site.example", destination.Domain);
    }

    [Fact]
    public async Task Ipv6Only_ForANameWithoutIpv6_FailsNamingTheNameAndTheStrategy()
    {
        var e = await Assert.ThrowsAsync<OutboundException>(() => ResolveAsync(DnsStrategy.Ipv6Only, V4));

        Assert.Equal("site.example has no IPv6 address (strategy ipv6_only)", e.Message);
    }

    [Fact]
    public async Task PreferIpv6_ForANameWithoutIpv6_DialsItsIpv4Address()
    {
        var destination = await ResolveAsync(DnsStrategy.PreferIpv6, V4);

        Assert.Equal(NetAddress.Parse("192.0.2.7"), destination.Address);
    }
}
