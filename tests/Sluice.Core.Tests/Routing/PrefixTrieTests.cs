using Sluice.Core.Routing;
using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Core.Tests.Routing;

public class PrefixTrieTests
{
    [Fact]
    public void Longest_IsLongestPrefixMatch()
    {
        var trie = new PrefixTrie();
        trie.Set(IpPrefix.Parse("0.0.0.0/0"), 0);
        trie.Set(IpPrefix.Parse("10.0.0.0/8"), 1);
        trie.Set(IpPrefix.Parse("10.1.0.0/16"), 2);
        trie.Set(IpPrefix.Parse("10.1.2.3/32"), 3);
        trie.Set(IpPrefix.Parse("fd00::/8"), 4);
        Assert.Equal(3, Lookup(trie, "10.1.2.3"));
        Assert.Equal(2, Lookup(trie, "10.1.2.4"));
        Assert.Equal(1, Lookup(trie, "10.2.0.0"));
        Assert.Equal(0, Lookup(trie, "8.8.8.8"));
        Assert.Equal(4, Lookup(trie, "fd12::1"));
        Assert.Equal(-1, Lookup(trie, "2001:db8::1"));
    }

    [Fact]
    public void SetSamePrefixTwice_BelongsToTheLastPeer()
    {
        var trie = new PrefixTrie();
        trie.Set(IpPrefix.Parse("10.0.0.0/24"), 1);
        trie.Set(IpPrefix.Parse("10.0.0.0/24"), 2);
        Assert.Equal(2, Lookup(trie, "10.0.0.9"));
    }

    // 1–8 prefixes are answered from a short list, more by the walk: both must agree with a linear reference,
    // including a prefix set twice, a /0 and host bits beyond a prefix's length.
    [Theory]
    [InlineData(true, 1500)]
    [InlineData(false, 1500)]
    [InlineData(true, 1)]
    [InlineData(false, 1)]
    [InlineData(true, 3)]
    [InlineData(false, 5)]
    [InlineData(true, 8)]
    [InlineData(false, 8)]
    [InlineData(true, 9)]
    [InlineData(false, 9)]
    public void Longest_RandomPrefixes_MatchLinearReference(bool v4, int count)
    {
        for (int seed = 0; seed < (count > 100 ? 1 : 200); seed++)
            CheckAgainstLinearReference(v4, count, new Random((v4 ? 4 : 6) * 1000 + seed), count > 100 ? 20_000 : 200);
    }

    private static void CheckAgainstLinearReference(bool v4, int count, Random random, int lookups)
    {
        int width = v4 ? 32 : 128;
        var prefixes = new List<(IpPrefix Prefix, int Peer)>();
        var trie = new PrefixTrie();
        for (int i = 0; i < count; i++)
        {
            // Short random prefixes plus nested ones under earlier prefixes, so matches overlap.
            UInt128 address = RandomValue(random, width);
            int length = random.Next(width + 1);
            if (prefixes.Count > 0 && random.Next(2) == 0)
            {
                var parent = prefixes[random.Next(prefixes.Count)].Prefix;
                address = Within(parent, random, width);
                length = Math.Min(width, parent.Length + random.Next(width - parent.Length + 1));
            }
            if (prefixes.Count > 0 && random.Next(8) == 0)
            {
                var again = prefixes[random.Next(prefixes.Count)].Prefix; // set again, other host bits
                (address, length) = (Within(again, random, width), again.Length);
            }
            if (random.Next(16) == 0) length = 0;
            var prefix = new IpPrefix(Make(address, v4), length);
            int peer = random.Next(64);
            prefixes.Add((prefix, peer));
            trie.Set(prefix, peer);
        }

        for (int i = 0; i < lookups; i++)
        {
            UInt128 address = random.Next(3) == 0 ? RandomValue(random, width) : Within(prefixes[random.Next(prefixes.Count)].Prefix, random, width);
            var netAddress = Make(address, v4);
            int expected = -1, bestLength = -1;
            foreach (var (prefix, peer) in prefixes) // the last one set of equal prefixes wins, as in `wg set`
            {
                if (prefix.Contains(netAddress) && prefix.Length >= bestLength)
                {
                    bestLength = prefix.Length;
                    expected = peer;
                }
            }
            Assert.Equal(expected, trie.Longest(v4, address));
        }
    }

    private static int Lookup(PrefixTrie trie, string address)
    {
        var a = NetAddress.Parse(address);
        return trie.Longest(a.IsV4, a.Value);
    }

    private static NetAddress Make(UInt128 value, bool v4)
    {
        var bytes = new byte[v4 ? 4 : 16];
        if (v4) System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)value);
        else System.Buffers.Binary.BinaryPrimitives.WriteUInt128BigEndian(bytes, value);
        return NetAddress.FromBytes(bytes);
    }

    private static UInt128 RandomValue(Random random, int width)
    {
        var value = new UInt128((ulong)random.NextInt64(), (ulong)random.NextInt64()) ^ ((UInt128)(ulong)random.Next() << 63);
        return width == 32 ? value & uint.MaxValue : value;
    }

    private static UInt128 Within(IpPrefix prefix, Random random, int width)
    {
        if (prefix.Length == width) return prefix.Address.Value;
        UInt128 hostMask = prefix.Length == 0 ? (width == 32 ? uint.MaxValue : UInt128.MaxValue) : (UInt128.One << (width - prefix.Length)) - 1;
        return (prefix.Address.Value & ~hostMask) | (RandomValue(random, width) & hostMask);
    }
}
