using System.IO.Compression;
using Sluice.Core.Configuration;
using Sluice.Core.RuleSets;
using Sluice.Core.RuleSets.Srs;
using Sluice.Core.Tun;

namespace Sluice.Core.Tests.RuleSets;

/// <summary>
/// .srs bodies written out by hand from the format description (sing-box common/srs, sing's succinct
/// domain set), compared byte for byte with what the writer produces and read back by the reader.
/// </summary>
public class SrsFormatTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    private static byte[] File(byte version, byte[] body)
    {
        using var output = new MemoryStream();
        output.Write("SRS"u8);
        output.WriteByte(version);
        using (var z = new ZLibStream(output, CompressionLevel.Fastest, leaveOpen: true)) z.Write(body);
        return output.ToArray();
    }

    // domain ["ab"], domain_suffix ["c"], version 2. Keys "ba" and "c\n" (root label: c and its subdomains).
    // Trie, breadth first: 0 -b-> 1, 0 -c-> 2, 1 -a-> 3 (leaf), 2 -\n-> 4 (leaf).
    // leaves: bits 3, 4 = 0x18; label bitmap 0 0 1 | 0 1 | 0 1 | 1 | 1 = bits 2,4,6,7,8 = 0x1D4; labels "bca\n".
    private const string DomainBodyV2 =
        "01 00 02 00 01 0000000000000018 01 00000000000001D4 04 6263610A FF 00";

    // The same lists in version 1: suffix "c" becomes the exact key "c" plus "c.\r" (prefix label: subdomains).
    // Keys sorted: "ba", "c", "c.\r". Trie: 0 -b-> 1, 0 -c-> 2, 1 -a-> 3 (leaf), 2 leaf, 2 -.-> 4, 4 -\r-> 5 (leaf).
    // leaves: bits 2,3,5 = 0x2C; bitmap 001|01|01|1|01|1 = bits 2,4,6,7,9,10 = 0x6D4; labels "bca.\r".
    private const string DomainBodyV1 =
        "01 00 02 00 01 000000000000002C 01 00000000000006D4 05 6263612E0D FF 00";

    [Fact]
    public void DomainItem_IsTheSuccinctTrie_ByteForByte()
    {
        var content = new RuleSetContent(2, [new DefaultHeadlessRule { Domain = ["ab"], DomainSuffix = ["c"] }]);
        Assert.Equal(Hex(DomainBodyV2), SrsWriter.Body(content, 2));
    }

    [Fact]
    public void DomainSuffix_InVersion1_IsTheExactNamePlusSubdomains()
    {
        var content = new RuleSetContent(1, [new DefaultHeadlessRule { Domain = ["ab"], DomainSuffix = ["c"] }]);
        Assert.Equal(Hex(DomainBodyV1), SrsWriter.Body(content, 1));
    }

    [Theory]
    [InlineData(1, DomainBodyV1)]
    [InlineData(2, DomainBodyV2)]
    public void Reader_TurnsBothDomainForms_BackIntoDomainAndSuffix(byte version, string body)
    {
        var content = SrsReader.Read(File(version, Hex(body)));
        var rule = Assert.IsType<DefaultHeadlessRule>(Assert.Single(content.Rules));
        Assert.Equal(["ab"], rule.Domain);
        Assert.Equal(["c"], rule.DomainSuffix);
        Assert.Equal(version, content.Version);
    }

    // ip_cidr 10.0.0.0/8, 11.0.0.0/8 (touching: one range), ::1 — IPv4 ranges first, count as a big-endian uint64.
    private const string CidrBody =
        "01 00 06 01 0000000000000002 04 0A000000 04 0BFFFFFF 10 00000000000000000000000000000001 10 00000000000000000000000000000001 FF 00";

    [Fact]
    public void IpCidr_IsMergedRanges_ByteForByte()
    {
        var content = new RuleSetContent(2, [new DefaultHeadlessRule { IpCidr = [IpPrefix.Parse("11.0.0.0/8"), IpPrefix.Parse("10.1.2.3/8"), IpPrefix.Parse("::1")] }]);
        Assert.Equal(Hex(CidrBody), SrsWriter.Body(content, 2));
    }

    [Fact]
    public void IpRanges_ReadBack_AsTheFewestPrefixes()
    {
        var rule = Assert.IsType<DefaultHeadlessRule>(Assert.Single(SrsReader.Read(File(2, Hex(CidrBody))).Rules));
        Assert.Equal(["10.0.0.0/7", "::1/128"], rule.IpCidr.Select(p => p.ToString()));
    }

    // network "tcp", port 443, port_range "1000:", inverted; then a logical or of two process rules.
    private const string MixedBody =
        "02" +
        "00 01 01 03 746370 09 01 01BB 0A 01 05 313030303A FF 01" +
        "01 01 02 00 0B 01 04 6375726C FF 00 00 0C 01 04 2F62696E FF 00 00";

    [Fact]
    public void OtherItems_AndLogicalRules_FollowTheItemIds()
    {
        var content = new RuleSetContent(2,
        [
            new DefaultHeadlessRule { Network = ["tcp"], Port = [443], PortRange = ["1000:"], Invert = true },
            new LogicalHeadlessRule(LogicalMode.Or, [new DefaultHeadlessRule { ProcessName = ["curl"] }, new DefaultHeadlessRule { ProcessPath = ["/bin"] }]),
        ]);
        Assert.Equal(Hex(MixedBody), SrsWriter.Body(content, 2));
        var back = SrsReader.Read(File(2, Hex(MixedBody)));
        Assert.Equal(SourceRuleSetWriter.Write(content), SourceRuleSetWriter.Write(back));
    }

    [Fact]
    public void WrittenFile_StartsWithMagicAndVersion_AndInflatesToTheBody()
    {
        var content = new RuleSetContent(2, [new DefaultHeadlessRule { Domain = ["ab"], DomainSuffix = ["c"] }]);
        byte[] file = SrsWriter.Write(content);
        Assert.Equal("SRS\u0002"u8.ToArray(), file[..4]);
        Assert.Equal(0x78, file[4]); // zlib header
        using var inflated = new MemoryStream();
        using (var z = new ZLibStream(new MemoryStream(file[4..]), CompressionMode.Decompress)) z.CopyTo(inflated);
        Assert.Equal(Hex(DomainBodyV2), inflated.ToArray());
    }

    [Fact]
    public void CompileVersion_IsLoweredLikeSingBox_WhenNoItemNeedsIt()
    {
        Assert.Equal(2, SrsWriter.BinaryVersion(new RuleSetContent(3, [new DefaultHeadlessRule { Domain = ["a"] }])));
        Assert.Equal(3, SrsWriter.BinaryVersion(new RuleSetContent(3, [new DefaultHeadlessRule { NetworkType = [0] }])));
        Assert.Equal(1, SrsWriter.BinaryVersion(new RuleSetContent(1, [new DefaultHeadlessRule { Domain = ["a"] }])));
    }
}
