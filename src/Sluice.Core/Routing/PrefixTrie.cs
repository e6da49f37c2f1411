using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Core.Routing;

/// <summary>
/// IP prefixes as two binary tries (IPv4, IPv6), each prefix carrying a non-negative value: a rule index
/// for the router (<see cref="Add"/> keeps the smallest, <see cref="MinValue"/>), a peer index for
/// WireGuard's cryptokey routing (<see cref="Set"/>: the last one named wins, <see cref="Longest"/>).
/// A lookup is one walk of at most 32/128 nodes whatever the number of prefixes, without allocating;
/// built once, then read concurrently without locks.
/// </summary>
internal sealed class PrefixTrie
{
    private readonly BitTrie _v4 = new(32);
    private readonly BitTrie _v6 = new(128);

    public int Count { get; private set; }

    /// <summary>Adds a prefix; given twice, it keeps the smaller value (the earlier rule).</summary>
    public void Add(IpPrefix prefix, int value = 0) => Insert(prefix, value, replace: false);

    /// <summary>Sets a prefix's value; given twice, the last value wins (as `wg set` moves an allowed IP).</summary>
    public void Set(IpPrefix prefix, int value) => Insert(prefix, value, replace: true);

    /// <summary>True when any prefix contains the address.</summary>
    public bool Contains(NetAddress address) => (address.IsV4 ? _v4 : _v6).Contains(address.Value);

    /// <summary>The smallest value among the prefixes containing the address, int.MaxValue when none.</summary>
    public int MinValue(NetAddress address) => (address.IsV4 ? _v4 : _v6).MinValue(address.Value);

    /// <summary>The value of the longest prefix containing the address, −1 when none (longest-prefix match).</summary>
    public int Longest(bool isV4, UInt128 address) => (isV4 ? _v4 : _v6).Longest(address);

    private void Insert(IpPrefix prefix, int value, bool replace)
    {
        if (value is < 0 or int.MaxValue) throw new ArgumentOutOfRangeException(nameof(value), value, "a prefix's value is 0 or more, below int.MaxValue");
        (prefix.IsV4 ? _v4 : _v6).Add(prefix.Address.Value, prefix.Length, value, replace);
        Count++;
    }

    private sealed class BitTrie(int width)
    {
        // Node 0 is the root; child index 0 means "no child" (the root is nobody's child).
        private int[] _zero = new int[64];
        private int[] _one = new int[64];
        private int[] _value = Filled(64);
        private int _nodes = 1;

        public void Add(UInt128 address, int length, int value, bool replace)
        {
            int node = 0;
            for (int depth = 0; depth < length; depth++)
            {
                bool bit = ((address >> (width - 1 - depth)) & UInt128.One) != UInt128.Zero;
                int[] side = bit ? _one : _zero;
                if (side[node] == 0)
                {
                    int child = NewNode();
                    (bit ? _one : _zero)[node] = child; // arrays may have grown
                }
                node = (bit ? _one : _zero)[node];
            }
            _value[node] = replace ? value : Math.Min(_value[node], value);
        }

        public bool Contains(UInt128 address)
        {
            int node = 0;
            for (int depth = 0; ; depth++)
            {
                if (_value[node] != int.MaxValue) return true;
                if (depth == width) return false;
                bool bit = ((address >> (width - 1 - depth)) & UInt128.One) != UInt128.Zero;
                node = bit ? _one[node] : _zero[node];
                if (node == 0) return false;
            }
        }

        public int MinValue(UInt128 address)
        {
            int node = 0, min = int.MaxValue;
            for (int depth = 0; ; depth++)
            {
                min = Math.Min(min, _value[node]);
                if (depth == width) return min;
                bool bit = ((address >> (width - 1 - depth)) & UInt128.One) != UInt128.Zero;
                node = bit ? _one[node] : _zero[node];
                if (node == 0) return min;
            }
        }

        public int Longest(UInt128 address)
        {
            int node = 0, best = _value[0];
            for (int depth = 0; depth < width; depth++)
            {
                bool bit = ((address >> (width - 1 - depth)) & UInt128.One) != UInt128.Zero;
                node = bit ? _one[node] : _zero[node];
                if (node == 0) break;
                if (_value[node] != int.MaxValue) best = _value[node];
            }
            return best == int.MaxValue ? -1 : best;
        }

        private int NewNode()
        {
            if (_nodes == _zero.Length)
            {
                int size = _nodes * 2;
                Array.Resize(ref _zero, size);
                Array.Resize(ref _one, size);
                int old = _value.Length;
                Array.Resize(ref _value, size);
                _value.AsSpan(old).Fill(int.MaxValue);
            }
            return _nodes++;
        }

        private static int[] Filled(int size)
        {
            var a = new int[size];
            a.AsSpan().Fill(int.MaxValue);
            return a;
        }
    }
}
