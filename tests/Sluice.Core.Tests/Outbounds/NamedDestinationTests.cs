using System.Text;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.Socks;
using Sluice.Packets;

namespace Sluice.Core.Tests.Outbounds;

/// <summary>
/// Proxy requests that carry an address in a name field (a SOCKS5 domain-type address, a SOCKS4a name, an HTTP host)
/// are handled as that address — IP rules match it, no resolver is asked — while anything that only looks numeric to
/// inet_aton stays a name.
/// </summary>
public sealed class NamedDestinationTests
{
    [Theory]
    [InlineData("10.1.2.3", "10.1.2.3")]
    [InlineData("2001:db8::7", "2001:db8::7")]
    [InlineData("::ffff:10.0.0.1", "::ffff:10.0.0.1")]
    public void AnIpLiteral_IsTheAddress(string name, string address)
    {
        var destination = Destination.Named(name, 443);
        Assert.Null(destination.Domain);
        Assert.Equal(NetAddress.Parse(address), destination.Address);
        Assert.Equal(443, destination.Port);
    }

    [Theory]
    [InlineData("example.com")]
    [InlineData("127.1")]
    [InlineData("1234")]
    [InlineData("0x7f.0.0.1")]
    [InlineData("010.1.2.3")]
    public void AnythingElse_StaysAName(string name)
    {
        var destination = Destination.Named(name, 80);
        Assert.Equal(name, destination.Domain);
        Assert.Equal(default, destination.Address);
    }

    [Fact]
    public void ASocks5DomainTypeAddress_HoldingAnIpLiteral_ReadsAsThatAddress()
    {
        byte[] name = Encoding.ASCII.GetBytes("192.0.2.9");
        byte[] wire = [SocksAddress.DomainName, (byte)name.Length, .. name, 0x01, 0xbb];

        Assert.Equal(wire.Length, SocksAddress.TryRead(wire, out var destination));
        Assert.Equal(new Destination(NetAddress.Parse("192.0.2.9"), 443), destination);
    }
}
