using System.Buffers.Binary;
using Sluice.Core.RuleSets.Srs;
using Sluice.Core.Tun;
using Sluice.Packets;
using ZstdSharp;
using ZstdSharp.Unsafe;

namespace Sluice.Core.RuleSets.Mrs;

/// <summary>
/// Reads mihomo's binary rule set (.mrs, "MRS" format 1: MetaCubeX's geosite/geoip lists), as mihomo's rule-provider
/// converter writes it. No mihomo is packaged in Debian 12, so the layout is taken from mihomo's published source
/// (rules/provider, component/trie, component/cidr) and tested against an independent encoder:
/// 1. the file is one zstd stream, decompressed up to <see cref="EngineLimits.RuleSetFileBytes"/> with a window of at
///    most 2^<see cref="WindowLogMax"/> bytes;
/// 2. header: "MRS", format byte 1, behavior byte (0 domain, 1 ipcidr), the converter's rule count (big-endian int64,
///    informative only), an extra field's length (big-endian int64) and its bytes (reserved; skipped);
/// 3. behavior domain: the succinct domain set: version byte 1; leaves and label bitmap, each a big-endian int64 word
///    count then big-endian 64-bit words; a big-endian int64 label count then the labels (<see cref="MrsDomainKeys"/>
///    says what its keys match);
///    behavior ipcidr: the IP range set: version byte 1, a big-endian int64 range count, then per range its first and
///    last address, 16 bytes each (IPv4 as ::ffff:a.b.c.d, unmapped as mihomo does).
/// Bytes after the set are ignored, as mihomo does. Every count is checked against the bytes left before anything is
/// allocated; a malformed file is a <see cref="RuleSetFormatException"/> naming the section and the byte offset in the
/// decompressed body.
/// </summary>
public static class MrsReader
{
    /// <summary>
    /// Largest zstd window accepted: 2^24 = 16 MiB. mihomo's writer (klauspost zstd, best compression) uses 8 MiB; the
    /// zstd default of 128 MiB would let a file of a few bytes make the decoder allocate that much.
    /// </summary>
    public const int WindowLogMax = 24;

    private const byte BehaviorDomain = 0, BehaviorIpCidr = 1, BehaviorClassical = 2;

    /// <summary>A zstd frame's magic number, 0xFD2FB528 little-endian (RFC 8878 §3.1.1): how an .mrs file starts.</summary>
    public static bool LooksBinary(ReadOnlySpan<byte> data) => data.StartsWith((ReadOnlySpan<byte>)[0x28, 0xB5, 0x2F, 0xFD]);

    /// <exception cref="RuleSetFormatException">Not an .mrs file, or a malformed one; the message says where.</exception>
    public static RuleSetContent Read(ReadOnlySpan<byte> data) => Read(data, EngineLimits.Default.RuleSetFileBytes);

    /// <param name="limit">Decompressed bytes, and bytes of what the set expands to (<see cref="EngineLimits.RuleSetFileBytes"/>).</param>
    internal static RuleSetContent Read(ReadOnlySpan<byte> data, long limit)
    {
        if (!LooksBinary(data)) throw new RuleSetFormatException("not a mihomo .mrs rule set: it does not start with a zstd frame (28 B5 2F FD)");
        byte[] body = Decompress(data, limit);
        var input = new SrsCursor(body);
        byte behavior = Header(ref input);
        try
        {
            return behavior == BehaviorDomain ? DomainSet(ref input, limit) : IpSet(ref input, limit);
        }
        catch (RuleSetFormatException e)
        {
            // The shared trie decoder names its section already.
            string section = behavior == BehaviorDomain ? "domain set" : "IP set";
            throw new RuleSetFormatException(e.Message.StartsWith(section + ":", StringComparison.Ordinal) ? e.Message : $"{section}: {e.Message}");
        }
    }

    private static byte Header(ref SrsCursor input)
    {
        try
        {
            var magic = input.Bytes(Math.Min(3, input.Remaining));
            if (!magic.SequenceEqual("MRS"u8))
                throw new RuleSetFormatException($"the decompressed body starts with {Convert.ToHexString(magic)}, not \"MRS\": not a mihomo rule set");
            byte version = input.Byte();
            if (version != 1) throw new RuleSetFormatException($"format version {version} at byte 3 (mihomo writes 1)");
            byte behavior = input.Byte();
            switch (behavior)
            {
                case BehaviorDomain or BehaviorIpCidr: break;
                case BehaviorClassical: throw new RuleSetFormatException("behavior classical at byte 4: mihomo writes .mrs only for behaviors domain and ipcidr");
                default: throw new RuleSetFormatException($"unknown behavior {behavior} at byte 4 (0 domain, 1 ipcidr)");
            }
            input.UInt64(); // the converter's rule count: shown by mihomo, not needed to read the set
            input.Bytes((int)Length(ref input, 1, "extra field", minimum: 0));
            return behavior;
        }
        catch (RuleSetFormatException e)
        {
            throw new RuleSetFormatException($"header: {e.Message}");
        }
    }

    private static RuleSetContent DomainSet(ref SrsCursor input, long limit)
    {
        Version(ref input);
        ulong[] leaves = Words(ref input, "leaves");
        ulong[] bitmap = Words(ref input, "label bitmap");
        int labels = (int)Length(ref input, 1, "labels", minimum: 1);
        return MrsDomainKeys.Content(SuccinctDomainSet.Keys(leaves, bitmap, input.Bytes(labels), limit));
    }

    private static RuleSetContent IpSet(ref SrsCursor input, long limit)
    {
        Version(ref input);
        long count = Length(ref input, 32, "ranges", minimum: 1);
        long maxPrefixes = limit / 16;
        var prefixes = new List<IpPrefix>();
        for (long i = 0; i < count; i++)
        {
            int at = input.Offset;
            var from = Address(input.Bytes(16));
            var to = Address(input.Bytes(16));
            if (from.IsV4 != to.IsV4 || from.Value > to.Value)
                throw new RuleSetFormatException($"range {i} at byte {at} runs from {from} to {to}, not an address range");
            foreach (var prefix in IpRangeSet.ToPrefixes(new IpRangeSet.Range(from.IsV4, from.Value, to.Value)))
            {
                if (prefixes.Count >= maxPrefixes) throw new RuleSetFormatException($"the ranges come to more than {maxPrefixes} CIDRs; refused");
                prefixes.Add(prefix);
            }
        }
        return new RuleSetContent(2, [new DefaultHeadlessRule { IpCidr = prefixes }]);
    }

    private static void Version(ref SrsCursor input)
    {
        byte version = input.Byte();
        if (version != 1) throw new RuleSetFormatException($"version {version} at byte {input.Offset - 1} (mihomo writes 1)");
    }

    /// <summary>A big-endian int64 count of items of <paramref name="itemBytes"/> each, checked against the bytes left.</summary>
    private static long Length(ref SrsCursor input, int itemBytes, string what, int minimum)
    {
        int at = input.Offset;
        long n = (long)input.UInt64();
        if (n < minimum) throw new RuleSetFormatException($"{what}: count {n} at byte {at} (at least {minimum})");
        if (n > input.Remaining / itemBytes)
            throw new RuleSetFormatException($"{what}: count {n} at byte {at} is more than the {input.Remaining} bytes left can hold");
        return n;
    }

    private static ulong[] Words(ref SrsCursor input, string what)
    {
        var words = new ulong[Length(ref input, 8, what, minimum: 1)];
        for (int i = 0; i < words.Length; i++) words[i] = input.UInt64();
        return words;
    }

    /// <summary>Go's netip.AddrFrom16(…).Unmap(): an IPv4-mapped address (::ffff:a.b.c.d) is IPv4.</summary>
    private static NetAddress Address(ReadOnlySpan<byte> bytes) =>
        bytes[..10].IndexOfAnyExcept((byte)0) < 0 && bytes[10] == 0xFF && bytes[11] == 0xFF
            ? NetAddress.FromV4(BinaryPrimitives.ReadUInt32BigEndian(bytes[12..]))
            : NetAddress.FromBytes(bytes);

    private static byte[] Decompress(ReadOnlySpan<byte> data, long limit)
    {
        using var compressed = new MemoryStream(data.ToArray(), writable: false);
        using var zstd = new DecompressionStream(compressed);
        zstd.SetParameter(ZSTD_dParameter.ZSTD_d_windowLogMax, WindowLogMax);
        using var output = new MemoryStream();
        byte[] buffer = new byte[81920];
        try
        {
            int n;
            while ((n = zstd.Read(buffer, 0, buffer.Length)) > 0)
            {
                if (output.Length + n > limit) throw new RuleSetFormatException($"the zstd body decompresses to more than {Size(limit)}; refused");
                output.Write(buffer, 0, n);
            }
        }
        catch (ZstdException e)
        {
            throw new RuleSetFormatException($"the zstd stream is not valid near compressed byte {compressed.Position}: {e.Message}");
        }
        catch (EndOfStreamException)
        {
            throw new RuleSetFormatException($"the zstd stream ends early, after {data.Length} bytes (truncated)");
        }
        return output.ToArray();
    }

    private static string Size(long bytes) => bytes % (1024 * 1024) == 0 ? $"{bytes / (1024 * 1024)} MiB" : $"{bytes} bytes";
}
