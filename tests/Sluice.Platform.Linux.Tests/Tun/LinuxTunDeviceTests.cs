using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Sluice.Core.Tun;
using Sluice.Platform.Linux.Tests.Support;

namespace Sluice.Platform.Linux.Tests.Tun;

public class LinuxTunDeviceTests
{
    private const string Tun = "sltun0";
    private static readonly IPAddress TunAddress = IPAddress.Parse("10.77.0.1");
    private static readonly IPAddress PeerAddress = IPAddress.Parse("10.77.0.2");

    private static LinuxTunDevice CreateConfigured(TestNamespace ns) => ns.Run(() =>
    {
        var tun = LinuxTunDevice.Create(Tun, 1400);
        try
        {
            TunInterfaceSetup.Configure(Tun, [IpPrefix.Parse("10.77.0.1/30"), IpPrefix.Parse("fd77::1/64")], 1400, ns.Name);
            return tun;
        }
        catch
        {
            tun.Dispose();
            throw;
        }
    });

    [Fact]
    public void Create_RejectsNameLongerThan15Characters()
    {
        var e = Assert.Throws<ArgumentException>(() => LinuxTunDevice.Create("sluice-way-too-long", 1500));
        Assert.Contains("15", e.Message);
    }

    [Fact]
    public void CreatedAndConfiguredTun_IsUpWithItsAddresses_AndDisposeLeavesNoInterface()
    {
        using var ns = new TestNamespace();
        var tun = CreateConfigured(ns);
        try
        {
            string link = ns.Ip("link", "show", Tun);
            Assert.Contains("mtu 1400", link);
            Assert.Contains(",UP", link);
            string addresses = ns.Ip("address", "show", "dev", Tun);
            Assert.Contains("inet 10.77.0.1/30", addresses);
            Assert.Contains("inet6 fd77::1/64", addresses);
            Assert.DoesNotContain("fe80:", addresses); // addrgenmode none: no link-local
            Assert.Equal("0", ns.Run(() => File.ReadAllText($"/proc/sys/net/ipv4/conf/{Tun}/rp_filter").Trim()));
            Assert.Equal("0", ns.Run(() => File.ReadAllText($"/proc/sys/net/ipv6/conf/{Tun}/accept_ra").Trim()));
        }
        finally
        {
            tun.Dispose();
        }
        var after = ns.TryIp("link", "show", Tun);
        Assert.False(after.Succeeded, $"{Tun} still exists after Dispose: {after.Stdout}");
    }

    [Fact]
    public void ReadBatch_ReturnsTheDatagramAnAppSentToThePeer()
    {
        using var ns = new TestNamespace();
        using var tun = CreateConfigured(ns);
        using var app = ns.Run(() => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp));
        app.Bind(new IPEndPoint(TunAddress, 40001));
        byte[] payload = "hello through the tun"u8.ToArray();
        app.SendTo(payload, new IPEndPoint(PeerAddress, 5353));

        var batch = new PacketBatch(16, 2048);
        byte[]? udp = null;
        for (int attempt = 0; attempt < 20 && udp is null; attempt++)
        {
            Assert.True(tun.ReadBatch(batch) > 0);
            for (int i = 0; i < batch.Count; i++)
            {
                var p = batch.Packet(i);
                if (p.Length >= 28 && p[0] >> 4 == 4 && p[9] == 17) udp = p.ToArray(); // skip IPv6 chatter
            }
        }
        Assert.NotNull(udp);
        Assert.Equal(TunAddress, new IPAddress(udp.AsSpan(12, 4)));
        Assert.Equal(PeerAddress, new IPAddress(udp.AsSpan(16, 4)));
        Assert.Equal(40001, BinaryPrimitives.ReadUInt16BigEndian(udp.AsSpan(20)));
        Assert.Equal(5353, BinaryPrimitives.ReadUInt16BigEndian(udp.AsSpan(22)));
        Assert.Equal(payload, udp.AsSpan(28).ToArray());
    }

    [Fact]
    public void ReadBatch_ReadsSeveralQueuedPacketsInOneCall()
    {
        using var ns = new TestNamespace();
        using var tun = CreateConfigured(ns);
        using var app = ns.Run(() => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp));
        app.Bind(new IPEndPoint(TunAddress, 40003));
        for (int i = 0; i < 5; i++) app.SendTo(new byte[] { (byte)i }, new IPEndPoint(PeerAddress, 5353));
        Thread.Sleep(100);

        var batch = new PacketBatch(64, 2048);
        int first = tun.ReadBatch(batch);
        var payloads = new List<byte>();
        for (int i = 0; i < batch.Count; i++)
        {
            var p = batch.Packet(i);
            if (p[0] >> 4 == 4 && p[9] == 17 && p.Length == 29) payloads.Add(p[28]);
        }
        Assert.True(first >= 5, $"expected the 5 queued datagrams in one batch, got {first} packets");
        Assert.Equal(new byte[] { 0, 1, 2, 3, 4 }, payloads.ToArray());
    }

    [Fact]
    public void Write_DeliversADatagramToASocketInTheNamespace()
    {
        using var ns = new TestNamespace();
        using var tun = CreateConfigured(ns);
        using var server = ns.Run(() => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp));
        server.Bind(new IPEndPoint(TunAddress, 40002));
        server.ReceiveTimeout = 5000;

        byte[] payload = "hello from the engine"u8.ToArray();
        tun.Write(UdpPacket.BuildV4(PeerAddress, 6000, TunAddress, 40002, payload));

        var buffer = new byte[256];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        int n = server.ReceiveFrom(buffer, ref from);
        Assert.Equal(payload, buffer.AsSpan(0, n).ToArray());
        Assert.Equal(new IPEndPoint(PeerAddress, 6000), from);
        Assert.Equal(0, tun.WriteErrors);
    }

    [Fact]
    public void Write_OfAMalformedPacket_IsCountedAndDoesNotThrow()
    {
        using var ns = new TestNamespace();
        using var tun = CreateConfigured(ns);
        tun.Write([0x00, 0x01, 0x02]); // neither IPv4 nor IPv6: the kernel answers EINVAL
        Assert.Equal(1, tun.WriteErrors);
    }

    [Fact]
    public void ReadBatch_ReturnsZero_WhenDisposedFromAnotherThread()
    {
        using var ns = new TestNamespace();
        var tun = ns.Run(() => LinuxTunDevice.Create(Tun, 1500)); // down, so nothing arrives
        var batch = new PacketBatch(4, 2048);
        int read = -1;
        var reader = new Thread(() => read = tun.ReadBatch(batch)) { IsBackground = true };
        reader.Start();
        Thread.Sleep(100);
        tun.Dispose();
        Assert.True(reader.Join(TimeSpan.FromSeconds(2)), "ReadBatch kept blocking after Dispose");
        Assert.Equal(0, read);
        Assert.Equal(0, tun.ReadBatch(batch));
        tun.Write([0x45]); // after Dispose: silently ignored
        Assert.False(ns.TryIp("link", "show", Tun).Succeeded);
    }

    [Fact]
    public void FromFd_WrapsAnOpenTunFd_WithoutCreatingAnInterface()
    {
        using var ns = new TestNamespace();
        using var created = ns.Run(() => LinuxTunDevice.Create(Tun, 1500));
        // Embedding: the host hands over an fd. Take a dup of ours to stand in for it.
        int fd = Dup(created);
        using var wrapped = LinuxTunDevice.FromFd(fd, Tun, 1500);
        Assert.Equal(Tun, wrapped.Name);
        Assert.Equal(1500, wrapped.Mtu);
        string links = ns.Ip("-o", "link", "show");
        Assert.Single(links.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.Contains(Tun));
    }

    private static int Dup(LinuxTunDevice device)
    {
        int fd = DupNative(device.DangerousFd);
        Assert.True(fd >= 0, "dup failed");
        return fd;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "dup", SetLastError = true)]
    private static extern int DupNative(int fd);
}
