using System.Net.Sockets;
using Sluice.Platform.Linux.Tests.Support;

namespace Sluice.Platform.Linux.Tests.Sockets;

public class LinuxSocketFactoryTests
{
    [Theory]
    [InlineData(AddressFamily.InterNetwork)]
    [InlineData(AddressFamily.InterNetworkV6)]
    public void CreatedSockets_CarryTheFwMark(AddressFamily family)
    {
        Preconditions.RequireRootAndTun();
        var factory = new LinuxSocketFactory(0x2022);
        using var tcp = factory.CreateTcp(family);
        using var udp = factory.CreateUdp(family);
        using var icmp = factory.CreateIcmp(family);
        Assert.Equal(0x2022u, LinuxSocketFactory.GetMark(tcp));
        Assert.Equal(0x2022u, LinuxSocketFactory.GetMark(udp));
        Assert.Equal(0x2022u, LinuxSocketFactory.GetMark(icmp));
        Assert.True(tcp.NoDelay);
        Assert.Equal(SocketType.Raw, icmp.SocketType);
        Assert.Equal(family == AddressFamily.InterNetwork ? ProtocolType.Icmp : ProtocolType.IcmpV6, icmp.ProtocolType);
    }

    [Fact]
    public void SetMark_ChangesTheMarkOfAnExistingSocket()
    {
        Preconditions.RequireRootAndTun();
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        Assert.Equal(0u, LinuxSocketFactory.GetMark(socket));
        LinuxSocketFactory.SetMark(socket, 0xdeadbeef);
        Assert.Equal(0xdeadbeefu, LinuxSocketFactory.GetMark(socket));
    }
}
