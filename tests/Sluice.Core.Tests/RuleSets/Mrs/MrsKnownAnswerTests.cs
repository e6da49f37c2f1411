using System.Net;
using Sluice.Core.RuleSets;
using Sluice.Core.RuleSets.Mrs;

namespace Sluice.Core.Tests.RuleSets.Mrs;

/// <summary>
/// mihomo .mrs files read and matched: two tiny files written out by hand, mihomo's own test expectations for its
/// domain set, and random sets from the independent encoder (mrs_encode.py) checked name by name and address by
/// address against a plain matcher of mihomo's rule meanings written here.
/// </summary>
public class MrsKnownAnswerTests
{
    /// <summary>The hex digits of each line before its '#' comment.</summary>
    private static byte[] Hex(string text) =>
        Convert.FromHexString(string.Concat(text.Split('\n').SelectMany(line => line.Split('#')[0].Where(char.IsAsciiHexDigit))));

    // A domain set of the list ["a", ".b"]: mihomo's trie keeps "a" and "+.b" (".b" is listed back as "+.b").
    // Keys reversed and sorted: "a", "b.+". Breadth first: 0 -a-> 1 (leaf), 0 -b-> 2, 2 -.-> 3, 3 -+-> 4 (leaf).
    // leaves: bits 1, 4 = 0x12; label bitmap 0 0 1 | 1 | 0 1 | 0 1 | 1 = bits 2,3,5,7,8 = 0x1AC; labels "ab.+".
    private const string TwoDomains = """
        28B52FFD A0 42000000 110200                # zstd: magic, single segment + 4-byte size (66), raw last block of 66
        4D5253 01 00                               # "MRS", format 1, behavior 0 (domain)
        0000000000000002 0000000000000000          # rule count 2, extra field length 0
        01                                         # domain set version 1
        0000000000000001 0000000000000012          # leaves: 1 word
        0000000000000001 00000000000001AC          # label bitmap: 1 word
        0000000000000004 61622E2B                  # labels: "ab.+"
        """;

    // An IP set of ["10.0.0.0/24", "2001:db8::/32"]: two ranges, first and last address as 16 bytes (IPv4 mapped).
    private const string TwoRanges = """
        28B52FFD A0 5E000000 F10200                # zstd: magic, single segment + 4-byte size (94), raw last block of 94
        4D5253 01 01                               # "MRS", format 1, behavior 1 (ipcidr)
        0000000000000002 0000000000000000          # rule count 2, extra field length 0
        01 0000000000000002                        # IP set version 1, 2 ranges
        00000000000000000000FFFF0A000000 00000000000000000000FFFF0A0000FF    # 10.0.0.0 – 10.0.0.255
        20010DB8000000000000000000000000 20010DB8FFFFFFFFFFFFFFFFFFFFFFFF    # 2001:db8:: – 2001:db8:ffff:…
        """;

    [Fact]
    public void HandWrittenDomainSet_IsTheNameItself_AndEverySubdomainOfADotEntry()
    {
        var content = MrsReader.Read(Hex(TwoDomains));
        Assert.True(MrsFiles.Matches(content, "a"));
        Assert.True(MrsFiles.Matches(content, "x.b"));
        Assert.True(MrsFiles.Matches(content, "y.x.B"));
        Assert.False(MrsFiles.Matches(content, "b"));
        Assert.False(MrsFiles.Matches(content, "x.a"));
        Assert.False(MrsFiles.Matches(content, "xb"));
        // and the independent encoder writes the same body for that list
        Assert.Equal(MrsReader.Read(MrsFiles.Encode("domain", ["a", ".b"])).Rules, content.Rules, new RuleComparer());
    }

    [Fact]
    public void HandWrittenIpSet_HoldsBothRanges_AndNothingBeside()
    {
        var content = MrsReader.Read(Hex(TwoRanges));
        Assert.Equal(["10.0.0.0/24", "2001:db8::/32"], ((DefaultHeadlessRule)Assert.Single(content.Rules)).IpCidr.Select(p => p.ToString()));
        Assert.True(MrsFiles.Matches(content, "10.0.0.255"));
        Assert.False(MrsFiles.Matches(content, "10.0.1.0"));
        Assert.True(MrsFiles.Matches(content, "2001:db8:ffff::1"));
        Assert.False(MrsFiles.Matches(content, "2001:db9::"));
    }

    /// <summary>The expectations of mihomo's own domain-set tests (component/trie/domain_set_test.go), through its file format.</summary>
    [Theory]
    [InlineData("baidu.com google.com www.google.com test.a.net test.a.oc .qq.com +.cn", "test.cn cn test.a.net www.qq.com google.com", "qq.com www.baidu.com")]
    [InlineData("+.baidu.com +.a.baidu.com www.baidu.com +.bb.baidu.com test.a.net test.a.oc www.qq.com", "www.baidu.com test.test.baidu.com baidu.com", "google.com")]
    [InlineData("*.*.*.baidu.com www.baidu.* stun.*.* *.*.qq.com test.*.baidu.com *.apple.com",
        "www.baidu.com test.test.baidu.com test.test.qq.com stun.ab.cd", "test.baidu.com www.google.com a.www.google.com test.qq.com test.test.test.qq.com")]
    public void MihomosOwnDomainSetCases_MatchAsItsTestsExpect(string rules, string matching, string notMatching)
    {
        var content = MrsReader.Read(MrsFiles.Encode("domain", rules.Split(' ')));
        foreach (string name in matching.Split(' ')) Assert.True(MrsFiles.Matches(content, name), name);
        foreach (string name in notMatching.Split(' ')) Assert.False(MrsFiles.Matches(content, name), name);
    }

    [Fact]
    public void RandomDomainSet_FromTheIndependentEncoder_MatchesEveryNameAsMihomoMeansIt()
    {
        var random = new Random(20261205);
        string[] words = ["a", "b", "ab", "cdn", "mail", "x-1", "zz", "bücher"];
        string[] tlds = ["test", "cn", "io"];
        string Name() => string.Join('.', Enumerable.Range(0, random.Next(1, 4)).Select(_ => words[random.Next(words.Length)])) + "." + tlds[random.Next(tlds.Length)];
        var rules = new HashSet<string>(StringComparer.Ordinal);
        while (rules.Count < 300)
        {
            string name = Name();
            rules.Add(random.Next(3) switch { 0 => name, 1 => "+." + name, _ => "." + name });
        }
        var queries = new List<string>();
        foreach (string rule in rules)
        {
            string name = rule.TrimStart('+', '.');
            queries.AddRange([name, "www." + name, "a.b." + name, name[(name.IndexOf('.') + 1)..], "x" + name]);
        }
        for (int i = 0; i < 600; i++) queries.Add(i % 3 == 0 ? Name().ToUpperInvariant() : Name());

        var content = MrsReader.Read(MrsFiles.Encode("domain", rules));
        var wrong = queries.Where(q => MrsFiles.Matches(content, q) != MihomoMatches(rules, q)).Distinct().ToList();
        Assert.True(wrong.Count == 0, "matched differently: " + string.Join(", ", wrong.Take(20)));
        int hits = queries.Count(q => MihomoMatches(rules, q));
        Assert.True(hits >= 300 && queries.Count - hits >= 150, $"{hits} of {queries.Count} names match: too few either way to tell");
    }

    [Fact]
    public void RandomIpSet_FromTheIndependentEncoder_MatchesEveryAddressAsMihomoMeansIt()
    {
        var random = new Random(5122026);
        byte[] V4() => [(byte)(10 + random.Next(3)), (byte)random.Next(4), (byte)random.Next(256), (byte)random.Next(256)];
        byte[] V6() => [0x20, 0x01, 0x0d, 0xb8, (byte)random.Next(3), (byte)random.Next(2), .. Enumerable.Range(0, 10).Select(_ => (byte)random.Next(256))];
        var rules = new List<string>();
        for (int i = 0; i < 300; i++)
        {
            bool v4 = i % 2 == 0;
            rules.Add($"{new IPAddress(v4 ? V4() : V6())}/{(v4 ? random.Next(18, 33) : random.Next(60, 129))}");
        }
        var queries = new List<IPAddress>();
        foreach (string rule in rules)
        {
            var (v4, first, last) = Range(rule);
            foreach (var value in new[] { first, last, first - 1, last + 1, first + (last - first) / 2 }) queries.Add(Address(v4, value));
        }
        for (int i = 0; i < 600; i++) queries.Add(new IPAddress(i % 2 == 0 ? V4() : V6()));

        var content = MrsReader.Read(MrsFiles.Encode("ipcidr", rules));
        var ranges = rules.Select(Range).ToList();
        bool Reference(IPAddress a)
        {
            var (v4, value, _) = Range($"{a}/{(a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128)}");
            return ranges.Any(r => r.V4 == v4 && r.First <= value && value <= r.Last);
        }
        var wrong = queries.Where(q => MrsFiles.Matches(content, q.ToString()) != Reference(q)).Distinct().ToList();
        Assert.True(wrong.Count == 0, "matched differently: " + string.Join(", ", wrong.Take(20)));
        int hits = queries.Count(Reference);
        Assert.True(hits >= 300 && queries.Count - hits >= 300, $"{hits} of {queries.Count} addresses match: too few either way to tell");
    }

    /// <summary>mihomo's meaning of a domain-behavior list entry: "+.x" x and its subdomains, ".x" its subdomains, else the name.</summary>
    private static bool MihomoMatches(IEnumerable<string> rules, string query)
    {
        string q = query.ToLowerInvariant();
        foreach (string rule in rules)
        {
            if (rule.StartsWith("+.", StringComparison.Ordinal) ? q == rule[2..] || q.EndsWith(rule[1..], StringComparison.Ordinal)
                : rule.StartsWith('.') ? q.EndsWith(rule, StringComparison.Ordinal)
                : q == rule)
                return true;
        }
        return false;
    }

    private static (bool V4, UInt128 First, UInt128 Last) Range(string cidr)
    {
        var parts = cidr.Split('/');
        byte[] bytes = IPAddress.Parse(parts[0]).GetAddressBytes();
        UInt128 value = 0;
        foreach (byte b in bytes) value = (value << 8) | b;
        int width = bytes.Length * 8, length = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
        UInt128 host = length == width ? 0 : (UInt128.One << (width - length)) - 1;
        return (bytes.Length == 4, value & ~host, value | host);
    }

    private static IPAddress Address(bool v4, UInt128 value)
    {
        int width = v4 ? 4 : 16;
        value &= v4 ? uint.MaxValue : UInt128.MaxValue;
        var bytes = new byte[width];
        for (int i = width - 1; i >= 0; i--, value >>= 8) bytes[i] = (byte)value;
        return new IPAddress(bytes);
    }

    private sealed class RuleComparer : IEqualityComparer<HeadlessRule>
    {
        public bool Equals(HeadlessRule? x, HeadlessRule? y) => SourceRuleSetWriter.WriteRule(x!) == SourceRuleSetWriter.WriteRule(y!);

        public int GetHashCode(HeadlessRule obj) => 0;
    }
}
