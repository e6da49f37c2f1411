using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Core.Routing;

/// <summary>
/// A set of IP prefixes as two binary tries (IPv4, IPv6). Each prefix carries a value (a rule index);
/// a lookup is one walk of at most 32/128 nodes whatever the number of prefixes, without allocating.
/// </summary>
internal sealed class PrefixTrie
{
    private readonly BitTrie _v4 = new(32);
    private readonly BitTrie _v6 = new(128);

    public int Count { get; private set; }

    public void Add(IpPrefix prefix, int value = 0)
    {
        (prefix.IsV4 ? _v4 : _v6).Add(prefix.Address.Value, prefix.Length, value);
        Count++;
    }

    /// <summary>True when any prefix contains the address.</summary>
    public bool Contains(NetAddress address) => (address.IsV4 ? _v4 : _v6).Contains(address.Value);

    /// <summary>The smallest value among the prefixes containing the address, int.MaxValue when none.</summary>
    public int MinValue(NetAddress address) => (address.IsV4 ? _v4 : _v6).MinValue(address.Value);

    private sealed class BitTrie(int width)
    {
        // Node 0 is the root; child index 0 means "no child" (the root is nobody's child).
        private int[] _zero = new int[64];
        private int[] _one = new int[64];
        private int[] _value = Filled(64);
        private int _nodes = 1;

        public void Add(UInt128 address, int length, int value)
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
            _value[node] = Math.Min(_value[node], value);
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
