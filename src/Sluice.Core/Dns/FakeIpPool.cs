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
            return address;
        }
    }

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
