using System.Buffers.Binary;
using Sluice.Core.RuleSets;
using Sluice.Core.RuleSets.Mrs;

namespace Sluice.Fuzz.Targets;

/// <summary>
/// mihomo .mrs rule sets over untrusted bytes, for SharpFuzz (fuzz/Sluice.Fuzz "mrs") and the corpus replay in the unit
/// tests. The first byte picks what the rest is: 0 a whole file (zstd and all); 1 a decompressed body, put in a zstd
/// frame of one raw block, so mutations reach the header and set parsers instead of dying in zstd. Limits are 1 MiB so an
/// input runs fast. The one outcome besides a rule set is a <see cref="RuleSetFormatException"/>; a set that is read
/// must compile for route and DNS rules.
/// </summary>
public static class MrsFuzzTarget
{
    private const long Limit = 1024 * 1024;

    public static void Run(ReadOnlySpan<byte> input)
    {
        if (input.Length == 0) return;
        byte[] file = input[0] == 1 && input.Length - 1 <= 128 * 1024 ? RawFrame(input[1..]) : input[1..].ToArray();
        RuleSetContent content;
        try
        {
            content = MrsReader.Read(file, Limit);
        }
        catch (RuleSetFormatException)
        {
            return;
        }
        CompiledRuleSet.Compile(content, RuleSetUsage.Route | RuleSetUsage.Dns);
    }

    /// <summary>
    /// <paramref name="body"/> (at most 128 KiB, a block's largest) in a zstd frame (RFC 8878 §3.1.1): magic, descriptor
    /// A0 (single segment, 4-byte content size), the size little-endian, one raw last block (3-byte header: bit 0 last,
    /// bits 1–2 type 0 raw, bits 3– size) and the bytes as they are.
    /// </summary>
    public static byte[] RawFrame(ReadOnlySpan<byte> body)
    {
        var frame = new byte[12 + body.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, 0xFD2FB528);
        frame[4] = 0xA0;
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(5), (uint)body.Length);
        uint block = 1u | ((uint)body.Length << 3);
        (frame[9], frame[10], frame[11]) = ((byte)block, (byte)(block >> 8), (byte)(block >> 16));
        body.CopyTo(frame.AsSpan(12));
        return frame;
    }
}
