using System.Net;
using System.Net.Sockets;
using Sluice.Packets;
using Sluice.Platform.Linux.Native;
using Sluice.Platform.Linux.Tests.Support;

namespace Sluice.Platform.Linux.Tests.Process;

public class LinuxProcessLookupTests
{
    private static FlowKey Flow(byte protocol, EndPoint? local, EndPoint? remote)
    {
        var l = (IPEndPoint)local!;
        var r = (IPEndPoint)remote!;
        return new FlowKey(protocol, NetAddress.FromIPAddress(l.Address), (ushort)l.Port,
            NetAddress.FromIPAddress(r.Address), (ushort)r.Port);
    }

    private static void AssertIsThisProcess(Sluice.Core.Flows.ProcessInfo? info)
    {
        Assert.NotNull(info);
        Assert.Equal((uint)0, info.Uid);
        Assert.Equal(Environment.ProcessId, info.Pid);
        Assert.Equal(File.ReadAllText("/proc/self/comm").Trim(), info.Name);
        Assert.Equal(Libc.ReadLink("/proc/self/exe"), info.Path);
        // The uid is named by the user database, as `id -un` names it.
        Assert.Equal(Exec("id", "-un"), info.UserName);
    }

    private static string Exec(string program, string arguments)
    {
        using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(program, arguments) { RedirectStandardOutput = true })!;
        string output = process.StandardOutput.ReadToEnd().Trim();
        process.WaitForExit();
        return output;
    }

    [Fact]
    public void UserNames_NameRoot_AndLeaveAnUnknownUidUnnamed()
    {
        Assert.Equal("root", UserNames.Of(0));
        Assert.Null(UserNames.Of(4_000_000_000));
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public void TcpClientFlow_IsFoundInThisProcess(string loopback)
    {
        Preconditions.RequireRootAndTun();
        var address = IPAddress.Parse(loopback);
        using var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(address, 0));
        listener.Listen();
        using var client = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(listener.LocalEndPoint!);
        using var accepted = listener.Accept();

        var lookup = new LinuxProcessLookup();
        AssertIsThisProcess(lookup.Find(Flow(IpProtocol.Tcp, client.LocalEndPoint, client.RemoteEndPoint)));
        // A second lookup is served from the cached inode map.
        int scans = lookup.ProcScans;
        AssertIsThisProcess(lookup.Find(Flow(IpProtocol.Tcp, client.LocalEndPoint, client.RemoteEndPoint)));
        Assert.Equal(scans, lookup.ProcScans);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public void UdpFlowFromABoundPort_IsFoundInThisProcess(string loopback)
    {
        Preconditions.RequireRootAndTun();
        var address = IPAddress.Parse(loopback);
        using var receiver = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        receiver.Bind(new IPEndPoint(address, 0));
        using var sender = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        sender.Bind(new IPEndPoint(address, 0));
        sender.SendTo("ping"u8, receiver.LocalEndPoint!);

        AssertIsThisProcess(new LinuxProcessLookup().Find(Flow(IpProtocol.Udp, sender.LocalEndPoint, receiver.LocalEndPoint)));
    }

    [Fact]
    public void V4FlowFromADualStackSocket_IsFound()
    {
        Preconditions.RequireRootAndTun();
        using var receiver = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        receiver.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using var sender = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp) { DualMode = true };
        sender.Bind(new IPEndPoint(IPAddress.IPv6Any, 0));
        sender.SendTo("ping"u8, new IPEndPoint(IPAddress.Loopback.MapToIPv6(), ((IPEndPoint)receiver.LocalEndPoint!).Port));
        int port = ((IPEndPoint)sender.LocalEndPoint!).Port;

        var flow = new FlowKey(IpProtocol.Udp, NetAddress.Parse("127.0.0.1"), (ushort)port,
            NetAddress.FromIPAddress(IPAddress.Loopback), (ushort)((IPEndPoint)receiver.LocalEndPoint!).Port);
        AssertIsThisProcess(new LinuxProcessLookup().Find(flow));
    }

    [Fact]
    public void SocketOpenedAfterTheFirstLookup_IsStillFound()
    {
        Preconditions.RequireRootAndTun();
        var lookup = new LinuxProcessLookup();
        using var a = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        a.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        AssertIsThisProcess(lookup.Find(Flow(IpProtocol.Udp, a.LocalEndPoint, new IPEndPoint(IPAddress.Loopback, 9))));
        using var b = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        b.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        AssertIsThisProcess(lookup.Find(Flow(IpProtocol.Udp, b.LocalEndPoint, new IPEndPoint(IPAddress.Loopback, 9))));
    }

    [Fact]
    public void FlowWithoutASocket_IsNull()
    {
        Preconditions.RequireRootAndTun();
        // A port nobody holds: bind then close to get one the kernel just freed.
        int port;
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            port = ((IPEndPoint)probe.LocalEndPoint!).Port;
        }
        var lookup = new LinuxProcessLookup();
        var flow = new FlowKey(IpProtocol.Udp, NetAddress.Parse("127.0.0.1"), (ushort)port, NetAddress.Parse("127.0.0.1"), 9);
        Assert.Null(lookup.Find(flow));
        Assert.Null(lookup.Find(flow with { Protocol = IpProtocol.Tcp }));
    }

    [Fact]
    public void IcmpFlow_IsNull()
    {
        var flow = new FlowKey(IpProtocol.Icmp, NetAddress.Parse("10.0.0.1"), 7, NetAddress.Parse("10.0.0.2"), 7);
        Assert.Null(new LinuxProcessLookup().Find(flow));
        Assert.Null(new LinuxProcessLookup().Find(flow with { Protocol = IpProtocol.IcmpV6 }));
    }

    [Fact]
    public void ConcurrentLookups_AllFindTheProcess()
    {
        Preconditions.RequireRootAndTun();
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(listener.LocalEndPoint!);
        var flow = Flow(IpProtocol.Tcp, client.LocalEndPoint, client.RemoteEndPoint);
        var lookup = new LinuxProcessLookup();
        var results = new Sluice.Core.Flows.ProcessInfo?[32];
        Parallel.For(0, results.Length, i => results[i] = lookup.Find(flow));
        Assert.All(results, r => Assert.Equal(Environment.ProcessId, r?.Pid));
    }
}
