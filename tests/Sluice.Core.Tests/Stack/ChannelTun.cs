using System.Threading.Channels;
using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Core.Tests.Stack;

/// <summary>
/// A TUN device in memory, for driving the data path without root: the test puts app packets in with
/// <see cref="Inject"/>, and takes what the engine wrote to the kernel with <see cref="TryTake"/>/<see cref="Take"/>.
/// Reads block as a real TUN's do, and return 0 once the device is disposed. Like a TUN with checksum offload,
/// it can hand over TCP packets whose checksum is partial (<see cref="InjectChecksumPending"/>), and keeps the
/// packets written back partial apart (<see cref="WrittenChecksumPending"/>): the kernel would complete those.
/// </summary>
internal sealed class ChannelTun(int mtu = 1500) : ITunDevice
{
    private readonly Channel<(byte[] Packet, int ChecksumStart)> _fromApps = Channel.CreateUnbounded<(byte[], int)>();
    private readonly Channel<byte[]> _toApps = Channel.CreateUnbounded<byte[]>();

    public string Name => "test0";

    public int Mtu => mtu;

    /// <summary>Queues a packet as if an app had sent it into the TUN.</summary>
    public void Inject(byte[] packet) => _fromApps.Writer.TryWrite((packet, 0));

    /// <summary>Queues a TCP packet whose checksum field holds the pseudo-header sum, its TCP header at <paramref name="checksumStart"/> (NEEDS_CSUM).</summary>
    public void InjectChecksumPending(byte[] packet, int checksumStart) => _fromApps.Writer.TryWrite((packet, checksumStart));

    /// <summary>Packets written with a partial checksum (copies), with where their sum starts.</summary>
    public List<(byte[] Packet, int ChecksumStart)> WrittenChecksumPending { get; } = [];

    /// <summary>Slots and bytes of the slab of the last batch the packet thread read into.</summary>
    public (int Slots, int Bytes) LastBatch { get; private set; }

    public int ReadBatch(PacketBatch batch)
    {
        LastBatch = (batch.Capacity, batch.Capacity * batch.SlotSize);
        if (!_fromApps.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult()) return 0;
        return ReadReady(batch);
    }

    /// <summary>Fills <paramref name="batch"/> with what is queued, without blocking (for a synchronous <c>Process</c>).</summary>
    public int ReadReady(PacketBatch batch)
    {
        int count = 0;
        while (count < batch.Capacity && _fromApps.Reader.TryRead(out var queued))
        {
            var (packet, checksumStart) = queued;
            packet.CopyTo(batch.SlotForRead(count));
            batch.SetLength(count, packet.Length);
            // As the Linux device: left partial only for a consumer that takes it so; completed otherwise.
            if (checksumStart != 0 && batch.KeepsPartialChecksums) batch.MarkChecksumPending(count, checksumStart);
            else if (checksumStart != 0) PartialChecksum.Complete(batch.Packet(count), checksumStart);
            count++;
        }
        batch.Count = count;
        return count;
    }

    public void Write(ReadOnlySpan<byte> packet) => _toApps.Writer.TryWrite(packet.ToArray());

    public void WriteChecksumPending(Span<byte> packet, int checksumStart)
    {
        lock (WrittenChecksumPending) WrittenChecksumPending.Add((packet.ToArray(), checksumStart));
    }

    /// <summary>The next packet the engine wrote towards the apps, if any.</summary>
    public bool TryTake(out byte[] packet) => _toApps.Reader.TryRead(out packet!);

    /// <summary>Waits for the next packet the engine writes towards the apps; throws after <paramref name="timeout"/>.</summary>
    public byte[] Take(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        return _toApps.Reader.ReadAsync(cancel.Token).AsTask().GetAwaiter().GetResult();
    }

    public void Dispose() => _fromApps.Writer.TryComplete();
}
