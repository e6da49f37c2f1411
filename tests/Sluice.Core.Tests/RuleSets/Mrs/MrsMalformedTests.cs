using Sluice.Core.RuleSets;
using Sluice.Core.RuleSets.Mrs;
using Sluice.Fuzz.Targets;

namespace Sluice.Core.Tests.RuleSets.Mrs;

/// <summary>
/// Broken .mrs files are refused with a message that names the section and the byte (offsets are into the
/// decompressed body), never an exception's type, never by allocating what a count claims.
/// </summary>
public class MrsMalformedTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(string.Concat(hex.Where(char.IsAsciiHexDigit)));

    private const string Header = "4D5253 01 00 0000000000000001 0000000000000000";   // "MRS" 1, domain, count 1, no extra
    private const string IpHeader = "4D5253 01 01 0000000000000001 0000000000000000";
    // The key "a": version 1 (byte 21); leaves, 1 word at 22 (bit 1: node 1); label bitmap, 1 word at 38 (0 1 1: node 0
    // has one child, node 1 none); labels, count at 54, "a" at 62.
    private const string Set = "01 0000000000000001 0000000000000002 0000000000000001 0000000000000006 0000000000000001 61";

    private static string Refusal(byte[] file)
    {
        var e = Assert.Throws<RuleSetFormatException>(() => MrsReader.Read(file));
        Assert.DoesNotContain("Exception", e.Message, StringComparison.Ordinal);
        return e.Message;
    }

    [Fact]
    public void AWellFormedBody_InTheSameFraming_IsRead()
    {
        var content = MrsReader.Read(MrsFuzzTarget.RawFrame(Hex(Header + Set)));
        Assert.Equal(["a"], ((DefaultHeadlessRule)Assert.Single(content.Rules)).Domain);
    }

    [Theory]
    [InlineData("4D5258 01 00", "header: the decompressed body starts with 4D5258, not \"MRS\"")]
    [InlineData("4D52", "header: the decompressed body starts with 4D52, not \"MRS\"")]
    [InlineData("4D5253 02 00", "header: format version 2 at byte 3")]
    [InlineData("4D5253 01 02", "header: behavior classical at byte 4")]
    [InlineData("4D5253 01 07", "header: unknown behavior 7 at byte 4")]
    [InlineData("4D5253 01 00 00000000", "header: the body ends at byte 5 where 8 bytes should follow (truncated)")]
    [InlineData("4D5253 01 00 0000000000000001 FFFFFFFFFFFFFFFF", "header: extra field: count -1 at byte 13 (at least 0)")]
    [InlineData("4D5253 01 00 0000000000000001 0000000000100000 00", "header: extra field: count 1048576 at byte 13 is more than the 1 bytes left can hold")]
    [InlineData(Header + "02", "domain set: version 2 at byte 21")]
    [InlineData(Header + "01 00000000000003E8 00", "domain set: leaves: count 1000 at byte 22 is more than the 1 bytes left can hold")]
    [InlineData(Header + "01 7FFFFFFFFFFFFFFF", "domain set: leaves: count 9223372036854775807 at byte 22")]
    [InlineData(Header + "01 0000000000000000", "domain set: leaves: count 0 at byte 22 (at least 1)")]
    [InlineData(Header + "01 0000000000000001 0000000000000002 0000000000000001 0000000000000006 0000000000000009 61",
        "domain set: labels: count 9 at byte 54 is more than the 1 bytes left can hold")]
    [InlineData(Header + "01 0000000000000001 0000000000000002 0000000000000002 0000000000000006",
        "domain set: label bitmap: count 2 at byte 38 is more than the 8 bytes left can hold")]
    [InlineData(Header + "01 0000000000000001 0000000000000002 0000000000000001 0000000000000006 0000000000000002 6162",
        "domain set: a child comes before its parent")]
    [InlineData(Header + "01 0000000000000001 0000000000000002 0000000000000001 0000000000000006 00000000",
        "domain set: the body ends at byte 54 where 8 bytes should follow (truncated)")]
    [InlineData(IpHeader + "01 0000000000000002" + "00000000000000000000FFFF0A000000 00000000000000000000FFFF0A0000FF",
        "IP set: ranges: count 2 at byte 22 is more than the 32 bytes left can hold")]
    [InlineData(IpHeader + "01 0000000000000001" + "00000000000000000000FFFF0A0000FF 00000000000000000000FFFF0A000000",
        "IP set: range 0 at byte 30 runs from 10.0.0.255 to 10.0.0.0, not an address range")]
    [InlineData(IpHeader + "01 0000000000000001" + "00000000000000000000FFFF0A000000 20010DB8000000000000000000000000",
        "IP set: range 0 at byte 30 runs from 10.0.0.0 to 2001:db8::, not an address range")]
    public void BrokenBody_IsRefused_NamingSectionAndByte(string body, string expected) =>
        Assert.StartsWith(expected, Refusal(MrsFuzzTarget.RawFrame(Hex(body))), StringComparison.Ordinal);

    [Fact]
    public void NotZstd_IsRefused_SayingWhatAnMrsFileStartsWith() =>
        Assert.Contains("does not start with a zstd frame", Refusal("payload:\n  - a.test\n"u8.ToArray()));

    [Fact]
    public void TruncatedFile_IsRefused_AsCutShort()
    {
        byte[] file = MrsFiles.Encode("domain", Enumerable.Range(0, 200).Select(i => $"host{i}.example.test"));
        foreach (int length in new[] { 4, 8, file.Length / 2, file.Length - 1 })
            Assert.Matches("zstd stream (ends early|is not valid)", Refusal(file[..length]));
    }

    [Fact]
    public void ZstdBomb_IsRefused_AtTheDecompressedLimit_WithoutGoingOn()
    {
        long limit = EngineLimits.Default.RuleSetFileBytes;
        byte[] bomb = MrsFiles.Zeros(limit + 1, windowLog: 23);
        Assert.True(bomb.Length < 64 * 1024, $"the bomb is {bomb.Length} bytes");
        Assert.Equal("the zstd body decompresses to more than 64 MiB; refused", Refusal(bomb));
        // one byte less is decompressed, and then refused for what it is, not for its size
        Assert.StartsWith("header:", Refusal(MrsFiles.Zeros(limit, windowLog: 23)), StringComparison.Ordinal);
    }

    [Fact]
    public void ZstdWindowPastTheBound_IsRefused_BeforeTheDecoderAllocatesIt()
    {
        // 2^27 = 128 MiB, which zstd's own default limit lets a decoder allocate for a file of a few dozen bytes.
        byte[] file = MrsFiles.Zeros(1 << 20, windowLog: 27);
        Assert.Contains("zstd stream is not valid", Refusal(file));
    }

    [Fact]
    public void ASetExpandingPastTheLimit_IsRefused_ThoughItsBodyFits()
    {
        // 200 names of 20 bytes share most of their trie: the body is far smaller than the 4,000 bytes they spell.
        byte[] names = MrsFiles.Encode("domain", Enumerable.Range(100, 200).Select(i => $"host{i}.example.test"));
        Assert.Equal(200, MrsReader.Read(names, 4000).Rules.Sum(r => ((DefaultHeadlessRule)r).Domain.Count));
        var e = Assert.Throws<RuleSetFormatException>(() => MrsReader.Read(names, 3999));
        Assert.Equal("domain set: its names come to more than 3999 bytes; refused", e.Message);

        // Merged by the encoder into one range, 10.0.0.1 – 10.63.255.255: 62 bytes of body, 22 CIDRs; a limit of 320 bytes allows 20.
        byte[] range = MrsFiles.Encode("ipcidr", ["10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/30", "10.0.0.8/29", "10.0.0.16/28", "10.0.0.32/27",
            "10.0.0.64/26", "10.0.0.128/25", "10.0.1.0/24", "10.0.2.0/23", "10.0.4.0/22", "10.0.8.0/21", "10.0.16.0/20", "10.0.32.0/19",
            "10.0.64.0/18", "10.0.128.0/17", "10.1.0.0/16", "10.2.0.0/15", "10.4.0.0/14", "10.8.0.0/13", "10.16.0.0/12", "10.32.0.0/11"]);
        Assert.Equal("IP set: the ranges come to more than 20 CIDRs; refused", Assert.Throws<RuleSetFormatException>(() => MrsReader.Read(range, 320)).Message);
    }

    [Fact]
    public void ASetOfOnlyKeysNoNameCanMatch_IsRefused_CountingThem()
    {
        // The key "A": mihomo lowercases the name it is asked about, so no name ever matches it.
        string message = Refusal(MrsFuzzTarget.RawFrame(Hex(Header + Set.Replace(" 61", " 41", StringComparison.Ordinal))));
        Assert.StartsWith("domain set: no key Sluice can match: 1 key(s) skipped", message, StringComparison.Ordinal);
    }
}
