using System.Buffers.Binary;
using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Core.Dns;

/// <summary>
/// Fake addresses for one family: handed out in order from the range (skipping the network address
/// and, for IPv4, the last one), mapped both ways, kept in memory only. When the range is used up
/// allocation wraps and the oldest name loses its address (a /15 holds 131,070 names). One lock: a
/// fake answer is two dictionary operations.
/// </summary>
internal sealed class FakeIpPool
{
    private readonly IpPrefix _range;
    private readonly UInt128 _base;
    private readonly UInt128 _size;
    private readonly int _width;
    private readonly Dictionary<string, NetAddress> _byName = new(StringComparer.Ordinal);
    private readonly Dictionary<string, NetAddress>.AlternateLookup<ReadOnlySpan<char>> _byNameSpan;
    private readonly Dictionary<NetAddress, string> _byAddress = new();
    private readonly Lock _lock = new();
    private UInt128 _next = 1;
    private int _version;

    public FakeIpPool(IpPrefix range)
    {
        _range = new IpPrefix(range.Network, range.Length);
        _width = range.IsV4 ? 32 : 128;
        _base = _range.Address.Value;
        int hostBits = _width - range.Length;
        _size = hostBits >= 127 ? UInt128.MaxValue / 2 : (UInt128)1 << hostBits;
        _byNameSpan = _byName.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public IpPrefix Range => _range;

    public bool IsV4 => _range.IsV4;

    public bool Contains(NetAddress address)
    {
        if (address.IsV4 != _range.IsV4) return false;
        if (_range.Length == 0) return true;
        int shift = _width - _range.Length;
        return address.Value >> shift == _base >> shift;
    }

    /// <summary>The name's fake address, allocating one on first sight. <paramref name="name"/> is lowercase.</summary>
    public NetAddress Allocate(ReadOnlySpan<char> name)
    {
        lock (_lock)
        {
            if (_byNameSpan.TryGetValue(name, out var known)) return known;
            UInt128 last = _range.IsV4 ? _size - 2 : _size - 1;
            if (_next > last) _next = 1;
            var address = FromValue(_base + _next++);
            if (_byAddress.Remove(address, out string? previous)) _byName.Remove(previous);
            string key = name.ToString();
            _byName[key] = address;
            _byAddress[address] = key;
            _version++;
            return address;
        }
    }

    /// <summary>Grows with every new address handed out: a saver compares it to know whether anything changed.</summary>
    public int Version => Volatile.Read(ref _version);

    /// <summary>Every name with its address, oldest first, and the offset of the next address (experimental.cache_file.store_fakeip).</summary>
    public (UInt128 Next, List<(string Name, NetAddress Address)> Entries) Export()
    {
        lock (_lock)
        {
            var entries = _byAddress.Select(e => (e.Value, e.Key)).OrderBy(e => Offset(e.Key) < _next ? Offset(e.Key) + _size : Offset(e.Key)).ToList();
            return (_next, entries);
        }
    }

    /// <summary>Puts saved names back at their addresses, so a name keeps its fake address across restarts. Entries outside the range are skipped.</summary>
    public int Restore(UInt128 next, IEnumerable<(string Name, NetAddress Address)> entries)
    {
        lock (_lock)
        {
            int restored = 0;
            foreach (var (name, address) in entries)
            {
                if (!Contains(address) || name.Length == 0 || _byName.ContainsKey(name)) continue;
                UInt128 offset = Offset(address);
                if (offset == 0 || offset >= (_range.IsV4 ? _size - 1 : _size)) continue;
                if (_byAddress.Remove(address, out string? previous)) _byName.Remove(previous);
                _byName[name] = address;
                _byAddress[address] = name;
                restored++;
            }
            if (next >= 1 && next < _size) _next = next;
            return restored;
        }
    }

    /// <summary>
    /// Forgets every name (Clash's "flush fake-ip cache"): the next lookups get addresses from the start of the
    /// range again; returns how many names were dropped. Flows already open keep the name they were opened with.
    /// </summary>
    public int Clear()
    {
        lock (_lock)
        {
            int dropped = _byName.Count;
            _byName.Clear();
            _byAddress.Clear();
            _byName.TrimExcess();
            _byAddress.TrimExcess();
            _next = 1;
            _version++;
            return dropped;
        }
    }

    private UInt128 Offset(NetAddress address) => address.Value - _base;

    public bool TryGetName(NetAddress address, out string name)
    {
        lock (_lock) return _byAddress.TryGetValue(address, out name!);
    }

    private NetAddress FromValue(UInt128 value)
    {
        if (_range.IsV4) return NetAddress.FromV4((uint)value);
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, value);
        return NetAddress.FromBytes(bytes);
    }
}
