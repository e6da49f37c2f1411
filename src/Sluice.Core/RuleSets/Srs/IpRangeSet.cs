using System.Buffers.Binary;
using Sluice.Core.Tun;
using Sluice.Packets;

namespace Sluice.Core.RuleSets.Srs;

/// <summary>
/// The .srs IP item: a set of addresses as sorted, disjoint, non-adjacent inclusive ranges (go4.org/netipx's
/// IPSet), IPv4 ranges before IPv6. Encoding: version byte 1, the range count as a big-endian uint64,
/// then per range uvarint length + "from" bytes and uvarint length + "to" bytes (4 or 16 each).
/// </summary>
internal static class IpRangeSet
{
    public readonly record struct Range(bool IsV4, UInt128 From, UInt128 To);

    /// <summary>The normalized ranges of the prefixes: masked, sorted, overlapping and touching ones merged.</summary>
    public static List<Range> FromPrefixes(IEnumerable<IpPrefix> prefixes)
    {
        var ranges = prefixes.Select(ToRange).ToList();
        ranges.Sort((a, b) => a.IsV4 != b.IsV4 ? (a.IsV4 ? -1 : 1) : a.From.CompareTo(b.From) != 0 ? a.From.CompareTo(b.From) : a.To.CompareTo(b.To));
        var merged = new List<Range>(ranges.Count);
        foreach (var r in ranges)
        {
            if (merged.Count > 0)
            {
                var prev = merged[^1];
                if (prev.IsV4 == r.IsV4 && prev.To != Max(prev.IsV4) && prev.To + 1 == r.From)
                {
                    merged[^1] = prev with { To = r.To };
                    continue;
                }
                if (prev.IsV4 == r.IsV4 && r.From <= prev.To)
                {
                    if (r.To > prev.To) merged[^1] = prev with { To = r.To };
                    continue;
                }
            }
            merged.Add(r);
        }
        return merged;
    }

    /// <summary>The fewest prefixes that cover exactly the range (netipx IPRange.Prefixes).</summary>
    public static IEnumerable<IpPrefix> ToPrefixes(Range range)
    {
        int width = range.IsV4 ? 32 : 128;
        UInt128 from = range.From;
        while (true)
        {
            // The largest aligned block starting at "from" that does not run past "to".
            int bits = from == UInt128.Zero ? width : Math.Min(width, (int)UInt128.TrailingZeroCount(from));
            while (bits > 0 && (bits == 128 ? range.To != UInt128.MaxValue : from + ((UInt128.One << bits) - 1) > range.To)) bits--;
            yield return new IpPrefix(Address(range.IsV4, from), width - bits);
            UInt128 last = bits == 128 ? UInt128.MaxValue : from + ((UInt128.One << bits) - 1);
            if (last >= range.To) yield break;
            from = last + 1;
        }
    }

    public static void Write(SrsBuffer output, IReadOnlyList<Range> ranges)
    {
        output.Byte(1);
        output.UInt64((ulong)ranges.Count);
        Span<byte> bytes = stackalloc byte[16];
        foreach (var r in ranges)
        {
            int n = Bytes(r.IsV4, r.From, bytes);
            output.Uvarint((ulong)n);
            output.Bytes(bytes[..n]);
            n = Bytes(r.IsV4, r.To, bytes);
            output.Uvarint((ulong)n);
            output.Bytes(bytes[..n]);
        }
    }

    public static List<Range> Read(ref SrsCursor input, string what)
    {
        byte version = input.Byte();
        if (version != 1) throw new RuleSetFormatException($"{what}: IP set version {version} (only 1 exists)");
        ulong count = input.UInt64();
        // Each range is at least 2 × (1 length byte + 4 address bytes).
        if (count > (ulong)input.Remaining / 10) throw new RuleSetFormatException($"{what}: {count} ranges do not fit in the {input.Remaining} bytes left");
        var ranges = new List<Range>((int)count);
        for (ulong i = 0; i < count; i++)
        {
            var from = ReadAddress(ref input, what);
            var to = ReadAddress(ref input, what);
            if (from.IsV4 != to.IsV4 || from.Value > to.Value)
                throw new RuleSetFormatException($"{what}: range {i} runs from {from} to {to}, not an address range");
            ranges.Add(new Range(from.IsV4, from.Value, to.Value));
        }
        return ranges;
    }

    private static NetAddress ReadAddress(ref SrsCursor input, string what)
    {
        int length = input.Count(1, what);
        if (length is not (4 or 16)) throw new RuleSetFormatException($"{what}: an address of {length} bytes (4 or 16 expected)");
        return NetAddress.FromBytes(input.Bytes(length));
    }

    private static Range ToRange(IpPrefix prefix)
    {
        int width = prefix.IsV4 ? 32 : 128;
        UInt128 value = prefix.Address.Value;
        UInt128 hostMask = prefix.Length == 0 ? Max(prefix.IsV4) : (prefix.Length >= width ? UInt128.Zero : (UInt128.One << (width - prefix.Length)) - 1);
        return new Range(prefix.IsV4, value & ~hostMask & Max(prefix.IsV4), value | hostMask);
    }

    private static UInt128 Max(bool v4) => v4 ? uint.MaxValue : UInt128.MaxValue;

    private static int Bytes(bool v4, UInt128 value, Span<byte> bytes)
    {
        if (v4)
        {
            BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)value);
            return 4;
        }
        BinaryPrimitives.WriteUInt128BigEndian(bytes, value);
        return 16;
    }

    private static NetAddress Address(bool v4, UInt128 value)
    {
        if (v4) return NetAddress.FromV4((uint)value);
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, value);
        return NetAddress.FromBytes(bytes);
    }
}
