using System.Text;
using Sluice.Core.Configuration;
using Sluice.Core.RuleSets;
using static Sluice.Core.Tests.RuleSets.RuleSetMatchingTests;

namespace Sluice.Core.Tests.RuleSets;

/// <summary>
/// A Clash/mihomo rule provider's file as a local rule set ("format": "clash-…"): its entries route the flows Clash
/// would route, in both of its text forms, and a bad entry is named by line.
/// </summary>
public sealed class ClashRuleProviderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-clash-provider-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string File(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        System.IO.File.WriteAllText(path, text);
        return path;
    }

    private (Sluice.Core.Routing.Router Router, RuleSetLibrary Library) Provider(string format, string body)
    {
        string path = File("provider.yaml", body);
        var (router, library, _) = Compile($$"""[{ "tag": "p", "type": "local", "format": "{{format}}", "path": "{{path}}" }]""",
            """[{ "rule_set": "p", "outbound": "proxy" }]""");
        return (router, library);
    }

    [Fact]
    public void DomainProvider_MatchesClashWildcards_AsClashDoes()
    {
        var (router, library) = Provider("clash-domain", """
            payload:
              - '+.plus.test'
              - '.dot.test'
              - '*.star.test'
              - 'exact.test'
              - '*.*.two.test'
            """);
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
    public void TextAndYamlForms_ReadToTheSameSet()
    {
        var yaml = RuleSetBody.Parse(Encoding.UTF8.GetBytes("# comment\npayload:\n  - '192.168.1.0/24'\n  - \"2001:db8::/32\"\n  - 10.1.2.3\n"), RuleSetFormat.ClashIpCidr);
        var text = RuleSetBody.Parse(Encoding.UTF8.GetBytes("# comment\n192.168.1.0/24\n\n2001:db8::/32\r\n10.1.2.3\n"), RuleSetFormat.ClashIpCidr);
        Assert.Equal(SourceRuleSetWriter.Write(yaml), SourceRuleSetWriter.Write(text));
        Assert.Equal(3, Assert.IsType<DefaultHeadlessRule>(Assert.Single(text.Rules)).IpCidr.Count);
    }

    [Fact]
    public void ClassicalProvider_RoutesEachLineType_AndCountsTheLinesItSkips()
    {
        var (router, library) = Provider("clash-classical", """
            DOMAIN-SUFFIX,suffix.test
            DOMAIN-KEYWORD,tracker
            DOMAIN,one.test
            IP-CIDR,198.51.100.0/24,no-resolve
            GEOIP,CN
            DST-PORT,6000-6100
            IP-ASN,13335
            GEOIP,JP
            """);
        using (library)
        {
            string Lane(string? name = null, string destination = "93.184.216.34", ushort port = 443) =>
                router.Decide(Flow(destination, name, port: port)).Outbound!;
            Assert.Equal("proxy", Lane("www.suffix.test"));
            Assert.Equal("proxy", Lane("ads.tracker.example"));
            Assert.Equal("proxy", Lane("one.test"));
            Assert.Equal("direct", Lane("two.test"));
            Assert.Equal("proxy", Lane(destination: "198.51.100.9"));
            Assert.Equal("proxy", Lane(port: 6050));
            Assert.Equal("direct", Lane(port: 6101));
            string summary = library.Handles["p"].Content!.Summary();
            Assert.Contains("3 line(s) skipped, types Sluice does not match: GEOIP ×2 (first at line 5), IP-ASN ×1 (first at line 7)", summary);
        }
    }

    [Theory]
    [InlineData(RuleSetFormat.ClashDomain, "payload:\n  - '+.fine.test'\n  - 'a*b.test'\n", "line 3: \"a*b.test\" is not a Clash domain pattern")]
    [InlineData(RuleSetFormat.ClashDomain, "good.test\nbad name.test\n", "line 2: \"bad name.test\" is not a domain name")]
    [InlineData(RuleSetFormat.ClashIpCidr, "10.0.0.0/8\n# c\n10.0.0.0/40\n", "line 3: \"10.0.0.0/40\" is not an IP address or CIDR")]
    [InlineData(RuleSetFormat.ClashClassical, "DOMAIN,a.test\nDOMAIN-SUFFIX\n", "line 2: \"DOMAIN-SUFFIX\" has no value")]
    [InlineData(RuleSetFormat.ClashClassical, "DST-PORT,80-x\n", "line 1: \"80-x\" is not a port")]
    [InlineData(RuleSetFormat.ClashClassical, "payload:\n  - DOMAIN,a.test\n  - [DOMAIN, b.test]\n", "line 3: a payload entry is one string")]
    [InlineData(RuleSetFormat.ClashClassical, "payload:\n  - 'DOMAIN,a.test\n", "line 2: not valid YAML")]
    [InlineData(RuleSetFormat.ClashClassical, "GEOIP,CN\nIP-ASN,1\n", "no entry Sluice can match: 2 line(s) skipped")]
    [InlineData(RuleSetFormat.ClashDomain, "# only a comment\n", "the provider has no entries")]
    public void BadBody_IsRefused_NamingTheLineAndTheReason(RuleSetFormat format, string body, string expected)
    {
        var e = Assert.Throws<RuleSetFormatException>(() => RuleSetBody.Parse(Encoding.UTF8.GetBytes(body), format));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Config_TakesTheClashFormats_AndNamesThemWhenTheFormatIsUnknown()
    {
        static string Config(string format) => $$"""
            { "route": { "rule_set": [{ "tag": "p", "type": "remote", "format": "{{format}}", "url": "https://lists.example/p.txt" }],
                         "rules": [{ "rule_set": "p", "outbound": "direct" }] } }
            """;
        foreach (var format in new[] { "clash-domain", "clash-ipcidr", "clash-classical", "mrs" })
            Assert.Empty(ConfigLoader.Validate(Config(format)));
        var error = Assert.Single(ConfigLoader.Validate(Config("clash")));
        Assert.Contains("route.rule_set[0].format", error.ToString());
        Assert.Contains("\"clash-classical\"", error.ToString());
    }
}
