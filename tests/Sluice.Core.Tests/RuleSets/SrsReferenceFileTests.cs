using System.IO.Compression;
using Sluice.Core.RuleSets;
using Sluice.Core.RuleSets.Srs;

namespace Sluice.Core.Tests.RuleSets;

/// <summary>
/// Files written by sing-box itself (Reference/, taken from the SagerNet/sing-geosite and sing-geoip
/// "rule-set" branches, October 2024; see Reference/README.md): read, then written again, version-1
/// files must inflate to the same bytes — the writer is byte-compatible with sing-box's for them.
/// The version-2 files of that time still carry domain_suffix in the version-1 form (today's
/// sing-box writes version 2 with root labels); they must read to the same rules as version 1.
/// </summary>
public class SrsReferenceFileTests
{
    private static string PathOf(string name) => Path.Combine(AppContext.BaseDirectory, "RuleSets", "Reference", name);

    private static byte[] Inflate(byte[] file)
    {
        using var output = new MemoryStream();
        using (var z = new ZLibStream(new MemoryStream(file[4..]), CompressionMode.Decompress)) z.CopyTo(output);
        return output.ToArray();
    }

    [Theory]
    [InlineData("geosite-abc.v1.srs")]
    [InlineData("geosite-google.v1.srs")]
    [InlineData("geoip-ad.v1.srs")]
    [InlineData("geoip-cn.v1.srs")]
    public void SingBoxFile_ReadAndWrittenAgain_IsTheSameBody(string name)
    {
        byte[] original = System.IO.File.ReadAllBytes(PathOf(name));
        var content = SrsReader.Read(original);
        Assert.Equal(original[3], content.Version);
        Assert.Equal(Inflate(original), SrsWriter.Body(content, content.Version));
    }

    [Theory]
    [InlineData("geosite-abc")]
    [InlineData("geosite-google")]
    public void Version2File_InTheOlderDomainForm_ReadsAsTheVersion1File(string name)
    {
        var v1 = SrsReader.Read(System.IO.File.ReadAllBytes(PathOf(name + ".v1.srs")));
        var v2 = SrsReader.Read(System.IO.File.ReadAllBytes(PathOf(name + ".v2.srs")));
        Assert.Equal(2, v2.Version);
        Assert.Equal(SourceRuleSetWriter.Write(v1 with { Version = 2 }), SourceRuleSetWriter.Write(v2));
        // and today's version-2 form reads back to the same rules
        Assert.Equal(SourceRuleSetWriter.Write(v2), SourceRuleSetWriter.Write(SrsReader.Read(SrsWriter.Write(v2, 2))));
    }

    [Theory]
    [InlineData("geosite-google.v1.srs")]
    [InlineData("geoip-cn.v1.srs")]
    public void SingBoxFile_DecompiledAndCompiledFromSource_IsTheSameBody(string name)
    {
        byte[] original = System.IO.File.ReadAllBytes(PathOf(name));
        string source = SourceRuleSetWriter.Write(SrsReader.Read(original));
        var again = SourceRuleSet.Read(source);
        Assert.Equal(Inflate(original), SrsWriter.Body(again, original[3]));
    }

    [Fact]
    public void GoogleSet_HoldsTheNamesItIsFor()
    {
        var rule = Assert.IsType<DefaultHeadlessRule>(SrsReader.Read(System.IO.File.ReadAllBytes(PathOf("geosite-google.v2.srs"))).Rules[0]);
        Assert.Contains("google.com", rule.DomainSuffix.Concat(rule.Domain));
        Assert.True(rule.DomainSuffix.Count + rule.Domain.Count > 100);
    }
}
