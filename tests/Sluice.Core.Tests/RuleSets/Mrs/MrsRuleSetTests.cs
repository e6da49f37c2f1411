using Sluice.Core.Configuration;
using Sluice.Core.RuleSets;
using static Sluice.Core.Tests.RuleSets.RuleSetMatchingTests;

namespace Sluice.Core.Tests.RuleSets.Mrs;

/// <summary>
/// An .mrs file as a route.rule_set entry ("format": "mrs", or told by the .mrs extension): flows are routed by it as a
/// Clash rule provider with the same list in its text form routes them (ClashRuleProviderTests), and the other
/// formats name "mrs" when handed such a file.
/// </summary>
public sealed class MrsRuleSetTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-mrs-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Theory]
    [InlineData(", \"format\": \"mrs\"", "list.bin")]
    [InlineData("", "list.mrs")]
    public void LocalMrsDomainSet_RoutesLikeTheClashTextProviderOfTheSameList(string format, string fileName)
    {
        string path = Write(fileName, MrsFiles.Encode("domain", ["+.plus.test", ".dot.test", "*.star.test", "exact.test", "*.*.two.test"]));
        var (router, library, _) = Compile($$"""[{ "tag": "m", "type": "local", "path": "{{path}}"{{format}} }]""", """[{ "rule_set": "m", "outbound": "proxy" }]""");
        using (library)
        {
            string Lane(string name) => router.Decide(Flow(domain: name)).Outbound!;
            Assert.Equal(["proxy", "proxy", "proxy"], new[] { Lane("plus.test"), Lane("a.plus.test"), Lane("a.b.plus.test") });
            Assert.Equal(["direct", "proxy", "proxy"], new[] { Lane("dot.test"), Lane("a.dot.test"), Lane("a.b.dot.test") });
            Assert.Equal(["direct", "proxy", "direct"], new[] { Lane("star.test"), Lane("a.star.test"), Lane("a.b.star.test") });
            Assert.Equal(["proxy", "direct", "direct"], new[] { Lane("exact.test"), Lane("www.exact.test"), Lane("notexact.test") });
            Assert.Equal(["direct", "proxy", "direct"], new[] { Lane("a.two.test"), Lane("a.b.two.test"), Lane("a.b.c.two.test") });
        }
    }

    [Fact]
    public void LocalMrsIpSet_RoutesItsAddresses_OfBothFamilies()
    {
        string path = Write("cn.mrs", MrsFiles.Encode("ipcidr", ["203.0.113.0/25", "2001:db8:1::/48"]));
        var (router, library, _) = Compile($$"""[{ "tag": "m", "type": "local", "path": "{{path}}" }]""", """[{ "rule_set": "m", "outbound": "proxy" }]""");
        using (library)
        {
            string Lane(string address) => router.Decide(Flow(destination: address)).Outbound!;
            Assert.Equal(["proxy", "direct", "proxy", "direct"], new[] { Lane("203.0.113.127"), Lane("203.0.113.128"), Lane("2001:db8:1:ffff::1"), Lane("2001:db8:2::1") });
        }
    }

    [Fact]
    public void MrsFile_GivenAsAClashTextFormat_IsRefused_NamingTheFormatThatReadsIt()
    {
        var e = Assert.Throws<RuleSetFormatException>(() => RuleSetBody.Parse(MrsFiles.Encode("domain", ["a.test"]), RuleSetFormat.ClashDomain));
        Assert.Contains("mihomo binary (.mrs)", e.Message);
        Assert.Contains("set \"format\": \"mrs\"", e.Message);
    }

    [Fact]
    public void Config_TakesFormatMrs_AndTheMrsExtension()
    {
        var config = ConfigLoader.Load("""
            { "route": { "rule_set": [ { "type": "remote", "tag": "a", "url": "https://lists.test/geosite/cn.mrs" },
                                       { "type": "remote", "tag": "b", "url": "https://lists.test/cn", "format": "mrs" } ],
                         "rules": [ { "rule_set": ["a", "b"], "outbound": "direct" } ] } }
            """);
        Assert.All(config.Route.RuleSets, s => Assert.Equal(RuleSetFormat.Mrs, Assert.IsType<RemoteRuleSetOptions>(s).Format));
        Assert.Equal("mrs", RuleSetBody.Name(RuleSetFormat.Mrs));
    }
}
