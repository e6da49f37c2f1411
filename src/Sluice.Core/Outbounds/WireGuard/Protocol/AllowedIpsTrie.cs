using Sluice.Core.Tun;

namespace Sluice.Core.Outbounds.WireGuard;

/// <summary>
/// Cryptokey routing table (whitepaper §2): prefixes → peer index, longest-prefix match, one binary trie
/// per family. A prefix given twice belongs to the peer that named it last, as `wg set` moves it.
/// Built once by the device and read concurrently afterwards without locks; a lookup does not allocate.
/// </summary>
internal sealed class AllowedIpsTrie
{
    private readonly BitTrie _v4 = new(32);
    private readonly BitTrie _v6 = new(128);

    public void Add(IpPrefix prefix, int peer)
    {
        if (peer < 0) throw new ArgumentOutOfRangeException(nameof(peer));
        (prefix.IsV4 ? _v4 : _v6).Add(prefix.Address.Value, prefix.Length, peer);
    }

    /// <summary>The peer whose longest prefix contains the address, or −1.</summary>
    public int Lookup(bool isV4, UInt128 address) => (isV4 ? _v4 : _v6).Lookup(address);

    private sealed class BitTrie(int width)
    {
        // Node 0 is the root; a child index of 0 means "no child". _value −1 means "no prefix ends here".
        private int[] _zero = new int[64];
        private int[] _one = new int[64];
        private int[] _value = Empty(64);
        private int _count = 1;

        public void Add(UInt128 address, int length, int value)
        {
            int node = 0;
            for (int depth = 0; depth < length; depth++)
            {
                bool bit = BitAt(address, depth);
                int child = bit ? _one[node] : _zero[node];
                if (child == 0)
                {
                    child = NewNode();
                    (bit ? _one : _zero)[node] = child;
                }
                node = child;
            }
            _value[node] = value;
        }

        public int Lookup(UInt128 address)
        {
            int node = 0, best = _value[0];
            for (int depth = 0; depth < width; depth++)
            {
                node = BitAt(address, depth) ? _one[node] : _zero[node];
                if (node == 0) break;
                if (_value[node] >= 0) best = _value[node];
            }
            return best;
        }

        private bool BitAt(UInt128 address, int depth) => ((address >> (width - 1 - depth)) & UInt128.One) != UInt128.Zero;

        private int NewNode()
        {
            if (_count == _zero.Length)
            {
                int size = _count * 2;
                Array.Resize(ref _zero, size);
                Array.Resize(ref _one, size);
                int old = _value.Length;
                Array.Resize(ref _value, size);
                _value.AsSpan(old).Fill(-1);
            }
            return _count++;
        }

        private static int[] Empty(int size)
        {
            var values = new int[size];
            values.AsSpan().Fill(-1);
            return values;
        }
    }
}
