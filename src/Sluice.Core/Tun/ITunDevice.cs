using Sluice.Packets;

namespace Sluice.Core.Tun;

/// <summary>
/// A layer-3 TUN device: one IP packet per read or write, no packet-information header.
/// Reads are done by one dedicated thread; writes may come from several threads.
/// </summary>
public interface ITunDevice : IDisposable
{
    string Name { get; }

    int Mtu { get; }

    /// <summary>
    /// Blocks until at least one packet is readable, then reads as many as are ready (up to the
    /// batch capacity) without blocking again. Returns the number of packets read, or 0 once the
    /// device is closed. Every slot holds one ordinary IP packet with correct checksums, whatever
    /// offloads the device uses underneath; except, when the batch <see cref="PacketBatch.KeepsPartialChecksums"/>,
    /// TCP packets marked with <see cref="PacketBatch.MarkChecksumPending"/>.
    /// </summary>
    int ReadBatch(PacketBatch batch);

    /// <summary>Writes one IP packet to the kernel.</summary>
    void Write(ReadOnlySpan<byte> packet);

    /// <summary>
    /// Writes one TCP packet whose checksum is partial (<see cref="PartialChecksum"/>: the field holds the
    /// pseudo-header sum of the packet's addresses and length; the TCP header starts at
    /// <paramref name="checksumStart"/>). A device with checksum offload hands it to the kernel as such, which
    /// takes it as verified (as it does its own loopback packets); this default completes it in place and writes it.
    /// </summary>
    void WriteChecksumPending(Span<byte> packet, int checksumStart)
    {
        PartialChecksum.Complete(packet, checksumStart);
        Write(packet);
    }

    /// <summary>
    /// Writes several IP packets, in order: packet i is <c>buffer[packets[i].Offset..][..packets[i].Length]</c>.
    /// A device with offloads may merge consecutive segments of one TCP flow into one write and rewrites
    /// their headers in <paramref name="buffer"/> to do so. Called by one thread at a time.
    /// </summary>
    void WriteBatch(Span<byte> buffer, ReadOnlySpan<PacketRange> packets)
    {
        foreach (var packet in packets) Write(buffer.Slice(packet.Offset, packet.Length));
    }
}

/// <summary>Where one packet lies in a buffer.</summary>
public readonly record struct PacketRange(int Offset, int Length);
