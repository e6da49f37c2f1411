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
    /// device is closed.
    /// </summary>
    int ReadBatch(PacketBatch batch);

    /// <summary>Writes one IP packet to the kernel.</summary>
    void Write(ReadOnlySpan<byte> packet);
}
