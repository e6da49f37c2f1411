using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Sluice.Core.Outbounds;
using Sluice.Platform.Linux.Tests.Support;

namespace Sluice.Platform.Linux.Tests.Sockets;

public class LinuxDatagramBatchIoTests
{
    [Theory]
    [InlineData(new[] { 100, 100, 100 }, 0, 3)]
    [InlineData(new[] { 100, 100, 60, 100 }, 0, 3)]   // a shorter datagram ends the run
    [InlineData(new[] { 100, 120, 100 }, 0, 1)]       // a longer one cannot join
    [InlineData(new[] { 100, 120, 100 }, 1, 2)]
    [InlineData(new[] { 100, 100, 100, 100 }, 2, 2)]
    [InlineData(new[] { 50 }, 0, 1)]
    public void NextRun_TakesEqualDatagrams_AndAShorterLastOne(int[] lengths, int start, int expected) =>
        Assert.Equal(expected, LinuxDatagramBatchIo.NextRun(lengths, start, 64, 65000));

    [Fact]
    public void NextRun_StopsAtTheSegmentAndByteLimits()
    {
        int[] lengths = Enumerable.Repeat(1452, 100).ToArray();
        Assert.Equal(44, LinuxDatagramBatchIo.NextRun(lengths, 0, 64, 65000)); // 45 × 1452 > 65000
        Assert.Equal(10, LinuxDatagramBatchIo.NextRun(lengths, 0, 10, 65000));
    }

    [Theory]
    [InlineData(AddressFamily.InterNetwork)]
    [InlineData(AddressFamily.InterNetworkV6)]
    public unsafe void SentBatch_ArrivesWholeAndInOrder_ThroughGsoAndGro(AddressFamily family)
    {
        var loopback = family == AddressFamily.InterNetwork ? IPAddress.Loopback : IPAddress.IPv6Loopback;
        using var sender = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
        using var receiver = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
        sender.Bind(new IPEndPoint(loopback, 0));
        receiver.Bind(new IPEndPoint(loopback, 0));
        receiver.ReceiveBufferSize = 4 << 20;
        using var send = LinuxDatagramBatchIo.Create(sender);
        using var receive = LinuxDatagramBatchIo.Create(receiver);
        Assert.True(receive.GroEnabled);

        // 60 full datagrams, a short one, then 20 of another size: at least three GSO messages.
        int[] lengths = [.. Enumerable.Repeat(1452, 60), 700, .. Enumerable.Repeat(96, 20)];
        byte[] slab = GC.AllocateArray<byte>(lengths.Length * 2048, pinned: true);
        var addresses = new nint[lengths.Length];
        for (int i = 0; i < lengths.Length; i++)
        {
            slab.AsSpan(i * 2048, lengths[i]).Fill((byte)(i + 1));
            addresses[i] = Marshal.UnsafeAddrOfPinnedArrayElement(slab, i * 2048);
        }
        send.Send(addresses, lengths, receiver.LocalEndPoint!.Serialize());

        var batch = new DatagramBatch(8, family);
        var received = new List<byte[]>();
        while (received.Count < lengths.Length)
        {
            int n = receive.Receive(batch);
            Assert.True(n > 0);
            for (int m = 0; m < n; m++)
            {
                Assert.Equal(sender.LocalEndPoint, new IPEndPoint(family == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0).Create(batch.Source(m)));
                for (int at = 0; at < batch.Length(m); at += batch.SegmentSize(m))
                    received.Add(batch.Buffer.AsSpan(batch.DataOffset(m) + at, Math.Min(batch.SegmentSize(m), batch.Length(m) - at)).ToArray());
            }
        }
        Assert.Equal(lengths, received.Select(d => d.Length).ToArray());
        for (int i = 0; i < received.Count; i++) Assert.All(received[i], b => Assert.Equal((byte)(i + 1), b));
        Assert.True(send.GsoEnabled);
    }

    [Fact]
    public unsafe void SendAndReceive_AllocateNothing_OnceWarm()
    {
        using var sender = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp) { DualMode = true };
        using var receiver = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp) { DualMode = true };
        sender.Bind(new IPEndPoint(IPAddress.IPv6Any, 0));
        receiver.Bind(new IPEndPoint(IPAddress.IPv6Any, 0));
        receiver.ReceiveBufferSize = 4 << 20;
        using var send = LinuxDatagramBatchIo.Create(sender);
        using var receive = LinuxDatagramBatchIo.Create(receiver);
        var destination = new IPEndPoint(IPAddress.Loopback.MapToIPv6(), ((IPEndPoint)receiver.LocalEndPoint!).Port).Serialize();
        int[] lengths = [.. Enumerable.Repeat(1452, 40)];
        byte[] slab = GC.AllocateArray<byte>(lengths.Length * 2048, pinned: true);
        var addresses = Enumerable.Range(0, lengths.Length).Select(i => Marshal.UnsafeAddrOfPinnedArrayElement(slab, i * 2048)).ToArray();
        var batch = new DatagramBatch(8, AddressFamily.InterNetworkV6);

        long before = 0;
        for (int round = 0; round < 20; round++)
        {
            if (round == 10) before = GC.GetAllocatedBytesForCurrentThread();
            send.Send(addresses, lengths, destination);
            for (int got = 0; got < lengths.Length; )
            {
                int n = receive.Receive(batch);
                for (int m = 0; m < n; m++) got += (batch.Length(m) + batch.SegmentSize(m) - 1) / batch.SegmentSize(m);
            }
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public unsafe void Send_FallsBackToOneDatagramPerMessage_WhenTheKernelRefusesGso()
    {
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        using var receiver = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        sender.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        receiver.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        // SO_NO_CHECK: no UDP checksum, which UDP GSO cannot do, so a GSO send fails with EIO.
        sender.SetRawSocketOption(1, 11, BitConverter.GetBytes(1));
        using var send = LinuxDatagramBatchIo.Create(sender);

        int[] lengths = [.. Enumerable.Repeat(300, 10)];
        byte[] slab = GC.AllocateArray<byte>(lengths.Length * 512, pinned: true);
        var addresses = new nint[lengths.Length];
        for (int i = 0; i < lengths.Length; i++)
        {
            slab.AsSpan(i * 512, 300).Fill((byte)(i + 1));
            addresses[i] = Marshal.UnsafeAddrOfPinnedArrayElement(slab, i * 512);
        }
        send.Send(addresses, lengths, receiver.LocalEndPoint!.Serialize());

        Assert.False(send.GsoEnabled);
        receiver.ReceiveTimeout = 2000;
        byte[] buffer = new byte[2048];
        for (int i = 0; i < lengths.Length; i++)
        {
            Assert.Equal(300, receiver.Receive(buffer));
            Assert.All(buffer.AsSpan(0, 300).ToArray(), b => Assert.Equal((byte)(i + 1), b));
        }
    }

    [Fact]
    public async Task Receive_SleepsUntilDispose_WithoutWakingUp_AndReturnsZeroAtOnce()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var io = LinuxDatagramBatchIo.Create(socket);
        var (receiving, wakeups) = ThreadWakeups.WhileBlocked(() => io.Receive(new DatagramBatch(2, AddressFamily.InterNetwork)), TimeSpan.FromSeconds(1.5));
        Assert.True(wakeups <= 1, $"an idle receive woke {wakeups} times in 1.5 s (polling in slices?)");
        var disposed = System.Diagnostics.Stopwatch.StartNew();
        io.Dispose();
        Assert.Equal(0, await receiving.WaitAsync(TimeSpan.FromSeconds(2)));
        Assert.True(disposed.Elapsed < TimeSpan.FromSeconds(1), $"Receive returned {disposed.Elapsed.TotalMilliseconds:F0} ms after Dispose");
    }
}
