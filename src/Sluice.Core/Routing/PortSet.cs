using Sluice.Core.Configuration;

namespace Sluice.Core.Routing;

/// <summary>A set of ports as a 65536-bit bitmap (8 KiB): ports and ranges merge into one O(1) test.</summary>
internal sealed class PortSet
{
    private readonly ulong[] _bits = new ulong[65536 / 64];

    public PortSet(IEnumerable<ushort> ports, IEnumerable<PortRange> ranges)
    {
        foreach (ushort p in ports) Set(p);
        foreach (var r in ranges)
            for (int p = r.Start; p <= r.End; p++) Set(p);
    }

    public bool Contains(ushort port) => (_bits[port >> 6] & (1UL << (port & 63))) != 0;

    private void Set(int port) => _bits[port >> 6] |= 1UL << (port & 63);
}
