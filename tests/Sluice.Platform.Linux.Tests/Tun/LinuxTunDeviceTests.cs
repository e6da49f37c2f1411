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
    public async Task ALonePacket_ArrivingWhileTheReaderSleeps_IsHandedOverAfterOneRead_NotAfterTheReadThatFindsTheTunEmpty()
    {
        using var ns = new TestNamespace();
        // IPv4 only, so no IPv6 chatter can arrive while the reader sleeps.
        using var tun = ns.Run(() =>
        {
            var device = LinuxTunDevice.Create(Tun, 1400);
            TunInterfaceSetup.Configure(Tun, [IpPrefix.Parse("10.77.0.1/30")], 1400, ns.Name);
            return device;
        });
        using var app = ns.Run(() => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp));
        app.Bind(new IPEndPoint(TunAddress, 40004));
        var batch = new PacketBatch(16, 2048);

        int readerId = 0;
        using var started = new ManualResetEventSlim();
        using var measured = new ManualResetEventSlim();
        var reader = Task.Factory.StartNew(() =>
        {
            readerId = ThreadWakeups.CurrentThreadId();
            started.Set();
            int count = tun.ReadBatch(batch); // finds the TUN empty, sleeps in poll until the datagram
            measured.Wait(); // the thread stays, so its counters can be read
            return count;
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        started.Wait();
        Thread.Sleep(300);
        long before = ReadSyscalls(readerId);
        app.SendTo(new byte[] { 7 }, new IPEndPoint(PeerAddress, 5353));
        Assert.True(SpinWait.SpinUntil(() => ReadSyscalls(readerId) > before, TimeSpan.FromSeconds(5)), "the reader never read");
        Thread.Sleep(300); // a second read (the one that finds the TUN empty) would be made by now
        long reads = ReadSyscalls(readerId) - before;
        measured.Set();
        Assert.Equal(1, await reader.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(29, batch.Length(0));
        Assert.True(reads == 1, $"the reader made {reads} read(2) calls before handing over the lone packet (1: the packet's own)");
    }

    /// <summary>read(2)-family calls a thread made, successful or not (syscr in /proc/PID/task/TID/io).</summary>
    private static long ReadSyscalls(int threadId) =>
        long.Parse(File.ReadLines($"/proc/self/task/{threadId}/io").First(l => l.StartsWith("syscr:", StringComparison.Ordinal))[6..].Trim());

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
    public async Task ReadBatch_SleepsWithoutWakingUp_AndReturnsZero_WhenDisposedFromAnotherThread()
    {
        using var ns = new TestNamespace();
        var tun = ns.Run(() => LinuxTunDevice.Create(Tun, 1500)); // down, so nothing arrives
        var batch = new PacketBatch(4, 2048);
        var (reading, wakeups) = ThreadWakeups.WhileBlocked(() => tun.ReadBatch(batch), TimeSpan.FromSeconds(1.5));
        Assert.True(wakeups <= 1, $"an idle ReadBatch woke {wakeups} times in 1.5 s (polling in slices?)");
        tun.Dispose();
        Assert.Equal(0, await reading.WaitAsync(TimeSpan.FromSeconds(1))); // a TimeoutException: still blocking after Dispose
        Assert.Equal(0, tun.ReadBatch(batch));
        tun.Write([0x45]); // after Dispose: silently ignored
        // The kernel removes the interface when the last holder of the fd lets go (the reader, on its own thread).
        Assert.True(SpinWait.SpinUntil(() => !ns.TryIp("link", "show", Tun).Succeeded, TimeSpan.FromSeconds(5)), "the TUN interface outlived Dispose");
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

    [Fact]
    public void FromFd_OfAnOffloadTun_KeepsReadingPlainPackets()
    {
        using var ns = new TestNamespace();
        using var created = CreateConfigured(ns);
        Assert.True(created.Offload);
        using var wrapped = LinuxTunDevice.FromFd(Dup(created), Tun, 1400);
        Assert.True(wrapped.Offload); // the fd carries virtio_net_hdr, so the wrapper must parse it
        using var app = ns.Run(() => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp));
        app.Bind(new IPEndPoint(TunAddress, 40004));
        app.SendTo("via the dup"u8.ToArray(), new IPEndPoint(PeerAddress, 5353));
        var batch = new PacketBatch(16, 2048);
        byte[]? udp = null;
        for (int attempt = 0; attempt < 20 && udp is null; attempt++)
        {
            Assert.True(wrapped.ReadBatch(batch) > 0);
            for (int i = 0; i < batch.Count; i++)
                if (batch.Packet(i) is { Length: > 28 } p && p[0] == 0x45 && p[9] == 17) udp = p.ToArray();
        }
        Assert.NotNull(udp);
        Assert.Equal("via the dup"u8.ToArray(), udp.AsSpan(28).ToArray());
    }

    /// <summary>
    /// Plays the far end of a TCP connection an app in the namespace opens through the TUN: the kernel
    /// hands its data over as TSO super-packets, which ReadBatch must cut into valid segments, and the
    /// data written back with WriteBatch (merged into GSO packets) must reach the app intact.
    /// </summary>
    [Fact]
    public async Task TcpThroughAnOffloadTun_IsSegmentedOnRead_AndMergedOnWrite()
    {
        using var ns = new TestNamespace();
        using var tun = CreateConfigured(ns);
        Assert.True(tun.Offload);
        var app = ns.Run(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        using var _ = app;
        app.Bind(new IPEndPoint(TunAddress, 40005));
        var connecting = app.ConnectAsync(new IPEndPoint(PeerAddress, 5201));
        var batch = new PacketBatch(64, 2048);
        var flow = new TcpPacket.Flow(PeerAddress.GetAddressBytes(), TunAddress.GetAddressBytes(), 5201, 40005);

        byte[] syn = ReadTcp(tun, batch, p => (TcpPacket.Flags(p) & TcpPacket.Syn) != 0).Single();
        uint appSequence = TcpPacket.Sequence(syn) + 1;
        const uint OurSequence = 7_000_000;
        byte[] mss = [2, 4, 0x03, 0xE8]; // MSS 1000
        tun.Write(TcpPacket.Build(flow, OurSequence, appSequence, TcpPacket.Syn | TcpPacket.Ack, [], window: 65535, options: mss));
        await connecting.WaitAsync(TimeSpan.FromSeconds(5));

        // App → TUN: the first flight (initial window of 10 segments) as the kernel sends it.
        byte[] sent = new byte[10_000];
        new Random(3).NextBytes(sent);
        Assert.Equal(sent.Length, app.Send(sent));
        var got = new List<byte>();
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (got.Count < sent.Length && DateTime.UtcNow < deadline)
        {
            foreach (var segment in ReadTcp(tun, batch, p => TcpPacket.Payload(p).Length > 0))
            {
                Assert.True(segment.Length <= 20 + 20 + 1000, $"a {segment.Length}-byte segment is larger than the MSS allows");
                Assert.True(TcpPacket.ChecksumsValid(segment), "a segment read from the TUN has a bad checksum");
                Assert.Equal(appSequence + (uint)got.Count, TcpPacket.Sequence(segment));
                got.AddRange(TcpPacket.Payload(segment).ToArray());
            }
        }
        Assert.Equal(sent, got.ToArray());
        Assert.True(tun.SuperPackets > 0, "the kernel handed over no TSO super-packet, so nothing was cut up");

        // TUN → app: 30 segments in one WriteBatch, merged by the device into GSO writes.
        byte[] answer = new byte[30 * 1000];
        new Random(4).NextBytes(answer);
        var packets = Enumerable.Range(0, 30).Select(i => TcpPacket.Build(flow, OurSequence + 1 + (uint)(i * 1000), appSequence + (uint)sent.Length,
            i == 29 ? (byte)(TcpPacket.Ack | TcpPacket.Psh) : TcpPacket.Ack, answer.AsSpan(i * 1000, 1000), window: 65535)).ToList();
        byte[] buffer = new byte[packets.Sum(p => p.Length)];
        var ranges = new PacketRange[packets.Count];
        for (int i = 0, at = 0; i < packets.Count; at += packets[i].Length, i++)
        {
            packets[i].CopyTo(buffer, at);
            ranges[i] = new PacketRange(at, packets[i].Length);
        }
        tun.WriteBatch(buffer, ranges);
        Assert.Equal(0, tun.WriteErrors);
        Assert.Equal(1, tun.MergedWrites); // 30 × 1000 bytes: one GSO packet
        byte[] received = new byte[answer.Length];
        app.ReceiveTimeout = 5000;
        for (int n = 0; n < received.Length; ) n += app.Receive(received.AsSpan(n));
        Assert.Equal(answer, received);
    }

    /// <summary>
    /// With a batch that keeps partial checksums, the kernel's TCP packets come marked (NEEDS_CSUM: the field holds
    /// the pseudo-header sum, completed here as the kernel would), and packets written back partial are taken by
    /// the kernel's TCP: the handshake completes and the data reaches the app.
    /// </summary>
    [Fact]
    public async Task PartialChecksums_AreMarkedOnRead_AndPacketsWrittenPartial_ReachTheApp()
    {
        using var ns = new TestNamespace();
        using var tun = CreateConfigured(ns);
        Assert.True(tun.Offload);
        var app = ns.Run(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        using var _ = app;
        app.Bind(new IPEndPoint(TunAddress, 40006));
        var connecting = app.ConnectAsync(new IPEndPoint(PeerAddress, 5202));
        var batch = new PacketBatch(64, 2048) { KeepsPartialChecksums = true };
        var flow = new TcpPacket.Flow(PeerAddress.GetAddressBytes(), TunAddress.GetAddressBytes(), 5202, 40006);

        byte[]? syn = null;
        for (int attempt = 0; attempt < 20 && syn is null; attempt++)
        {
            Assert.True(tun.ReadBatch(batch) > 0);
            for (int i = 0; i < batch.Count && syn is null; i++)
            {
                var p = batch.Packet(i).ToArray();
                if (p.Length < 40 || p[0] != 0x45 || p[9] != 6 || (TcpPacket.Flags(p) & TcpPacket.Syn) == 0) continue;
                Assert.Equal(20, batch.ChecksumStart(i));
                Assert.False(TcpPacket.ChecksumsValid(p), "the SYN's checksum should still be partial");
                Packets.PartialChecksum.Complete(p, 20);
                Assert.True(TcpPacket.ChecksumsValid(p), "the partial checksum, completed, is wrong");
                syn = p;
            }
        }
        Assert.NotNull(syn);
        uint appSequence = TcpPacket.Sequence(syn) + 1;
        const uint OurSequence = 9_000_000;
        tun.WriteChecksumPending(Partial(TcpPacket.Build(flow, OurSequence, appSequence, TcpPacket.Syn | TcpPacket.Ack, [], window: 65535)), 20);
        await connecting.WaitAsync(TimeSpan.FromSeconds(5));

        byte[] answer = new byte[1200];
        new Random(5).NextBytes(answer);
        tun.WriteChecksumPending(Partial(TcpPacket.Build(flow, OurSequence + 1, appSequence, TcpPacket.Ack | TcpPacket.Psh, answer, window: 65535)), 20);
        byte[] received = new byte[answer.Length];
        app.ReceiveTimeout = 5000;
        for (int n = 0; n < received.Length; ) n += app.Receive(received.AsSpan(n));
        Assert.Equal(answer, received);
        Assert.Equal(0, tun.WriteErrors);
    }

    /// <summary>A whole IPv4 TCP packet as the kernel would hand it over with NEEDS_CSUM: the field holds the folded pseudo-header sum.</summary>
    private static byte[] Partial(byte[] packet)
    {
        uint sum = TcpPacket.PseudoSum(packet, packet.Length - 20);
        while (sum > 0xFFFF) sum = (sum & 0xFFFF) + (sum >> 16);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(36), (ushort)sum);
        return packet;
    }

    /// <summary>The IPv4 TCP packets of one ReadBatch that match.</summary>
    private static List<byte[]> ReadTcp(LinuxTunDevice tun, PacketBatch batch, Func<byte[], bool> match)
    {
        var result = new List<byte[]>();
        for (int attempt = 0; attempt < 20 && result.Count == 0; attempt++)
        {
            Assert.True(tun.ReadBatch(batch) > 0);
            for (int i = 0; i < batch.Count; i++)
            {
                var p = batch.Packet(i).ToArray();
                if (p.Length >= 40 && p[0] == 0x45 && p[9] == 6 && match(p)) result.Add(p);
            }
        }
        return result;
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
