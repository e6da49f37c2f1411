using System.Runtime.CompilerServices;
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

        // Up to FewLimit prefixes are also kept as a list, top-aligned and masked: the longest match over a WireGuard
        // peer's few allowed IPs is then a handful of compares per packet, where the walk is up to 32/128 levels.
        private const int FewLimit = 8;
        private readonly ulong[] _fewHigh = new ulong[FewLimit], _fewLow = new ulong[FewLimit];
        private readonly int[] _fewLength = new int[FewLimit], _fewValue = new int[FewLimit];
        private int _few; // −1 once more than FewLimit distinct prefixes were added: the walk alone answers

        public void Add(UInt128 address, int length, int value, bool replace)
        {
            ulong high = (ulong)(address >> 64), low = (ulong)address;
            int node = 0;
            for (int depth = 0; depth < length; depth++)
            {
                bool bit = Bit(high, low, depth);
                int[] side = bit ? _one : _zero;
                if (side[node] == 0)
                {
                    int child = NewNode();
                    (bit ? _one : _zero)[node] = child; // arrays may have grown
                }
                node = (bit ? _one : _zero)[node];
            }
            _value[node] = replace ? value : Math.Min(_value[node], value);
            if (_few >= 0) AddFew(high, low, length, _value[node]);
        }

        private void AddFew(ulong high, ulong low, int length, int value)
        {
            (high, low) = TopAligned(high, low);
            low = length <= 64 ? 0 : low & ~0UL << (128 - length);
            high = length == 0 ? 0 : length >= 64 ? high : high & ~0UL << (64 - length);
            for (int i = 0; i < _few; i++)
            {
                if (_fewLength[i] == length && _fewHigh[i] == high && _fewLow[i] == low)
                {
                    _fewValue[i] = value; // the node's value after Add's min or Set's replace
                    return;
                }
            }
            if (_few == FewLimit)
            {
                _few = -1;
                return;
            }
            (_fewHigh[_few], _fewLow[_few], _fewLength[_few], _fewValue[_few]) = (high, low, length, value);
            _few++;
        }

        /// <summary>The address with its first bit at the top of <c>high</c> (an IPv4 address is the low 32 bits).</summary>
        private (ulong High, ulong Low) TopAligned(ulong high, ulong low) => width == 32 ? (low << 32, 0) : (high, low);

        public bool Contains(UInt128 address)
        {
            ulong high = (ulong)(address >> 64), low = (ulong)address;
            int node = 0;
            for (int depth = 0; ; depth++)
            {
                if (_value[node] != int.MaxValue) return true;
                if (depth == width) return false;
                bool bit = Bit(high, low, depth);
                node = bit ? _one[node] : _zero[node];
                if (node == 0) return false;
            }
        }

        public int MinValue(UInt128 address)
        {
            ulong high = (ulong)(address >> 64), low = (ulong)address;
            int node = 0, min = int.MaxValue;
            for (int depth = 0; ; depth++)
            {
                min = Math.Min(min, _value[node]);
                if (depth == width) return min;
                bool bit = Bit(high, low, depth);
                node = bit ? _one[node] : _zero[node];
                if (node == 0) return min;
            }
        }

        public int Longest(UInt128 address)
        {
            ulong high = (ulong)(address >> 64), low = (ulong)address;
            if (_few >= 0) return LongestOfFew(high, low);
            int node = 0, best = _value[0];
            for (int depth = 0; depth < width; depth++)
            {
                bool bit = Bit(high, low, depth);
                node = bit ? _one[node] : _zero[node];
                if (node == 0) break;
                if (_value[node] != int.MaxValue) best = _value[node];
            }
            return best == int.MaxValue ? -1 : best;
        }

        private int LongestOfFew(ulong high, ulong low)
        {
            (high, low) = TopAligned(high, low);
            int best = -1, bestLength = -1;
            for (int i = 0; i < _few; i++)
            {
                int length = _fewLength[i];
                if (length <= bestLength) continue;
                bool matches = length <= 64
                    ? length == 0 || ((high ^ _fewHigh[i]) >> (64 - length)) == 0
                    : high == _fewHigh[i] && ((low ^ _fewLow[i]) >> (128 - length)) == 0;
                if (matches) (best, bestLength) = (_fewValue[i], length);
            }
            return best;
        }

        /// <summary>
        /// The address's bit at <paramref name="depth"/> from its top, an IPv4 address being the low 32 bits. On two 64-bit
        /// halves: a 128-bit shift per level was a call each, the largest item of the WireGuard lane's own code per packet.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private bool Bit(ulong high, ulong low, int depth)
        {
            int shift = width - 1 - depth;
            return ((shift >= 64 ? high >> (shift - 64) : low >> shift) & 1) != 0;
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
