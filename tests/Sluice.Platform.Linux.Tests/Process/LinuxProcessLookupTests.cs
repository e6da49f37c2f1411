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
        // The kernel may still list the probe for a moment after its close (owned by no process then): wait for it to go.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(2);
        while (lookup.Find(flow) is not null && DateTime.UtcNow < deadline) Thread.Sleep(20);
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
    public void UdpOwnerLookups_ReuseOneNetlinkSocketPerThread_AndAnswerForTheThreadsNamespace()
    {
        // The DNS hijack asks for the owner of every new DNS flow on the packet thread (issue 17): each lookup must not
        // open and close a netlink socket, and a v4 miss must not cost a second request.
        Preconditions.RequireRootAndTun();
        var lookup = new LinuxProcessLookup();
        using var bound = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        bound.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var flow = Flow(IpProtocol.Udp, bound.LocalEndPoint, new IPEndPoint(IPAddress.Parse("10.200.0.1"), 53));
        int port;
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            port = ((IPEndPoint)probe.LocalEndPoint!).Port;
        }
        var miss = flow with { SourcePort = (ushort)port };

        var result = new List<bool>();
        HashSet<string> kept = [], keptAfter = [];
        var thread = new Thread(() =>
        {
            var baseline = SockDiagSockets();
            result.Add(lookup.TryFindSocketUid(flow, out _)); // opens this thread's socket, and keeps it
            kept = SockDiagSockets();
            kept.ExceptWith(baseline);
            for (int i = 0; i < 200; i++)
            {
                result.Add(lookup.TryFindSocketUid(flow, out uint uid) && uid == 0);
                result.Add(!lookup.TryFindSocketUid(miss, out _));
            }
            keptAfter = SockDiagSockets();
            keptAfter.ExceptWith(baseline);
        });
        thread.Start();
        thread.Join();
        Assert.All(result, Assert.True);
        Assert.True(kept.Count == 1, $"after a lookup the thread keeps {kept.Count} sock_diag sockets open, not 1");
        Assert.Equal(kept, keptAfter); // the same socket served the 400 lookups after it

        // Another namespace's thread has a socket of its own: this namespace's port is not found from there.
        using var ns = new TestNamespace();
        Assert.False(ns.Run(() => lookup.TryFindSocketUid(flow, out _)), "a lookup from another namespace's thread saw this namespace's socket");
        Assert.True(lookup.TryFindSocketUid(flow, out _));
    }

    /// <summary>The inodes of this process's open NETLINK_SOCK_DIAG sockets (protocol 4 in /proc/net/netlink).</summary>
    private static HashSet<string> SockDiagSockets()
    {
        var inodes = File.ReadLines("/proc/self/net/netlink").Skip(1).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length > 9 && f[1] == "4").Select(f => f[^1]).ToHashSet(StringComparer.Ordinal);
        return Directory.GetFiles("/proc/self/fd").Select(Libc.ReadLink)
            .Where(target => target is not null && target.StartsWith("socket:[", StringComparison.Ordinal) && inodes.Contains(target[8..^1]))
            .Select(target => target![8..^1]).ToHashSet(StringComparer.Ordinal);
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
