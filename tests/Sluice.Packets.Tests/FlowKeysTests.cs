using Sluice.Packets;

namespace Sluice.Packets.Tests;

public class FlowKeysTests
{
    [Fact]
    public void FlowKey_HoldsAddressesAndPorts_ForTcp()
    {
        Assert.True(IpPacket.TryParse(GoldenPackets.Bytes(GoldenPackets.V4TcpSyn), out var ip));
        Assert.True(FlowKeys.TryGetFlowKey(in ip, out var key));
        Assert.Equal(new FlowKey(IpProtocol.Tcp, NetAddress.Parse("192.168.1.100"), 54321, NetAddress.Parse("93.184.216.34"), 443), key);
    }

    [Fact]
    public void FlowKey_HoldsAddressesAndPorts_ForUdpBehindExtensionHeader()
    {
        Assert.True(IpPacket.TryParse(GoldenPackets.Bytes(GoldenPackets.V6HopByHopUdp), out var ip));
        Assert.True(FlowKeys.TryGetFlowKey(in ip, out var key));
        Assert.Equal(new FlowKey(IpProtocol.Udp, NetAddress.Parse("fe80::1"), 1000, NetAddress.Parse("ff02::16"), 2000), key);
    }

    [Fact]
    public void FlowKey_PutsEchoIdentifierInBothPorts()
    {
        Assert.True(IpPacket.TryParse(GoldenPackets.Bytes(GoldenPackets.V4Echo), out var v4));
        Assert.True(FlowKeys.TryGetFlowKey(in v4, out var key4));
        Assert.Equal(new FlowKey(IpProtocol.Icmp, NetAddress.Parse("10.0.0.1"), 0x1234, NetAddress.Parse("8.8.8.8"), 0x1234), key4);

        Assert.True(IpPacket.TryParse(GoldenPackets.Bytes(GoldenPackets.V6Echo), out var v6));
        Assert.True(FlowKeys.TryGetFlowKey(in v6, out var key6));
        Assert.Equal(new FlowKey(IpProtocol.IcmpV6, NetAddress.Parse("2001:db8::1"), 0x4321, NetAddress.Parse("2001:db8::2"), 0x4321), key6);
    }

    [Fact]
    public void FlowKey_UsesFirstFragmentPorts()
    {
        Assert.True(IpPacket.TryParse(GoldenPackets.Bytes(GoldenPackets.V4FirstFragment), out var ip));
        Assert.True(FlowKeys.TryGetFlowKey(in ip, out var key));
        Assert.Equal(4000, key.SourcePort);
        Assert.Equal(5000, key.DestinationPort);
    }

    [Fact]
    public void FlowKey_IsAbsent_ForLaterFragments_IcmpErrors_AndOtherProtocols()
    {
        foreach (string hex in new[] { GoldenPackets.V4SecondFragment, GoldenPackets.V6NonFirstFragment })
        {
            Assert.True(IpPacket.TryParse(GoldenPackets.Bytes(hex), out var fragment));
            Assert.False(FlowKeys.TryGetFlowKey(in fragment, out _));
        }

        byte[] error = GoldenPackets.Bytes(GoldenPackets.V4Echo);
        error[20] = IcmpTypes.V4DestinationUnreachable;
        Assert.True(IpPacket.TryParse(error, out var eip));
        Assert.False(FlowKeys.TryGetFlowKey(in eip, out _));

        byte[] gre = GoldenPackets.Bytes(GoldenPackets.V4Echo);
        gre[9] = 47;
        Assert.True(IpPacket.TryParse(gre, out var gip));
        Assert.False(FlowKeys.TryGetFlowKey(in gip, out _));

        byte[] icmpInV6 = GoldenPackets.Bytes(GoldenPackets.V6Echo);
        icmpInV6[6] = IpProtocol.Icmp; // ICMPv4 inside IPv6 is not an echo flow
        Assert.True(IpPacket.TryParse(icmpInV6, out var wrong));
        Assert.False(FlowKeys.TryGetFlowKey(in wrong, out _));
    }
}
