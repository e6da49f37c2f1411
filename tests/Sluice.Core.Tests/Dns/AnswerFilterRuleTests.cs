using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Core.Configuration;
using Sluice.Core.Dns;
using Sluice.Core.Routing;
using Sluice.Core.RuleSets;
using Sluice.Tests;

namespace Sluice.Core.Tests.Dns;

/// <summary>
/// DNS rules that test the answer's addresses (sing-box's address filter fields, the geoip-cn idiom): the rule's
/// server is asked, and only an answer whose addresses pass the filter reaches the app; otherwise the rules after it
/// decide, here the final "remote" server.
/// </summary>
public sealed class AnswerFilterRuleTests : IAsyncDisposable
{
    private const string InCn = "192.0.2.10";        // what "local" answers for a name inside the set
    private const string OutsideCn = "198.51.100.7";  // what "local" answers for a name outside it
    private const string Remote = "203.0.113.5";      // what "remote" answers for everything

    private readonly DnsResponder _local = new(q => Msg.Response(q.Raw, Msg.A(q.Name, q.Name.StartsWith("in.", StringComparison.Ordinal) ? InCn : OutsideCn, 300)));
    private readonly DnsResponder _remote = new(q => Msg.Response(q.Raw, Msg.A(q.Name, Remote, 300)));
    private readonly List<IDisposable> _libraries = [];

    public async ValueTask DisposeAsync()
    {
        foreach (var l in _libraries) l.Dispose();
        await _local.DisposeAsync();
        await _remote.DisposeAsync();
    }

    /// <summary>A server built from a config's dns section, with its rule sets loaded (inline sets only).</summary>
    private DnsServer Server(string rules, string ruleSets = "[]")
    {
        var config = ConfigLoader.Load($$"""
            {
              "inbounds": [ { "type": "tun", "tag": "tun-in", "address": "172.19.0.1/30" } ],
              "outbounds": [ { "type": "direct", "tag": "direct" } ],
              "dns": {
                "servers": [
                  { "type": "udp", "tag": "local", "server": "127.0.0.1", "server_port": {{_local.Port}} },
                  { "type": "udp", "tag": "remote", "server": "127.0.0.1", "server_port": {{_remote.Port}} }
                ],
                "rules": {{rules}},
                "final": "remote"
              },
              "route": { "rule_set": {{ruleSets}}, "final": "direct" }
            }
            """);
        var library = RuleSetLibrary.For(config);
        _libraries.Add(library);
        library.Load(_ => throw new InvalidOperationException("no remote sets here"), "direct", null, Path.GetTempPath(), NullLogger.Instance, TimeProvider.System);
        return DnsServer.Create(config.Dns, _ => throw new InvalidOperationException("no detours here"), new PlainSockets(), NullLoggerFactory.Instance,
            TimeProvider.System, new DnsEnvironment("/nonexistent/resolv.conf", 53, []), new RuleScope(library.Handles, new ClashModeState("rule")));
    }

    private const string GeoipCn = """[{ "tag": "geoip-cn", "type": "inline", "rules": [ { "ip_cidr": ["192.0.2.0/24"] } ] }]""";

    [Fact]
    public async Task GeoipSet_AnswerInsideTheSet_IsTheLocalServersAnswer()
    {
        await using var server = Server("""[{ "rule_set": "geoip-cn", "server": "local" }]""", GeoipCn);

        var answer = await server.Ask("in.example");

        Assert.Equal([InCn], Msg.Addresses(answer));
        Assert.Equal(0, _remote.Count);
    }

    [Fact]
    public async Task GeoipSet_AnswerOutsideTheSet_IsAskedAgainOfTheNextServer()
    {
        await using var server = Server("""[{ "rule_set": "geoip-cn", "server": "local" }]""", GeoipCn);

        var answer = await server.Ask("out.example");

        Assert.Equal([Remote], Msg.Addresses(answer));
        Assert.Equal(1, _local.Count);  // asked first, answer set aside
        Assert.Equal(1, _remote.Count);
    }

    /// <summary>The sing-box manual's "bypass DNS rules with leaks": not a foreign site by name, and answered inside geoip-cn.</summary>
    [Fact]
    public async Task ManualIdiom_LogicalAndOfNotForeignSiteAndGeoipSet_FiltersTheLocalAnswer()
    {
        await using var server = Server("""
            [{ "type": "logical", "mode": "and", "rules": [ { "rule_set": "geosite-!cn", "invert": true }, { "rule_set": "geoip-cn" } ], "server": "local" }]
            """, """
            [{ "tag": "geoip-cn", "type": "inline", "rules": [ { "ip_cidr": ["192.0.2.0/24"] } ] },
             { "tag": "geosite-!cn", "type": "inline", "rules": [ { "domain_suffix": ["foreign.example"] } ] }]
            """);

        Assert.Equal([InCn], Msg.Addresses(await server.Ask("in.example")));
        Assert.Equal((1, 0), (_local.Count, _remote.Count));
        Assert.Equal([Remote], Msg.Addresses(await server.Ask("out.example")));
        Assert.Equal((2, 1), (_local.Count, _remote.Count));
        Assert.Equal([Remote], Msg.Addresses(await server.Ask("in.foreign.example")));  // a foreign site by name: local is never asked
        Assert.Equal((2, 2), (_local.Count, _remote.Count));
    }

    [Fact]
    public async Task IpCidr_FiltersTheAnswer_AndASecondQueryIsDecidedFromTheCacheTheSameWay()
    {
        await using var server = Server("""[{ "ip_cidr": ["192.0.2.0/24"], "server": "local" }]""");

        Assert.Equal([InCn], Msg.Addresses(await server.Ask("in.example")));
        Assert.Equal([Remote], Msg.Addresses(await server.Ask("out.example")));
        Assert.Equal([Remote], Msg.Addresses(await server.Ask("out.example")));

        Assert.Equal(2, _local.Count);   // each name once; the second out.example came from both caches
        Assert.Equal(1, _remote.Count);
    }

    [Fact]
    public async Task MatchSource_TheSetsCidrsTestNoAnswer_AndNeverMatch()
    {
        await using var server = Server("""[{ "rule_set": "geoip-cn", "rule_set_ip_cidr_match_source": true, "server": "local" }]""", GeoipCn);

        Assert.Equal([Remote], Msg.Addresses(await server.Ask("in.example")));
        Assert.Equal(0, _local.Count);
    }

    [Fact]
    public async Task NonAddressQuery_PassesTheFilterRuleOver()
    {
        await using var server = Server("""[{ "ip_cidr": ["192.0.2.0/24"], "server": "local" }]""");

        await server.Ask("in.example", DnsType.TXT);

        Assert.Equal(0, _local.Count);
        Assert.Equal(1, _remote.Count);
    }

    [Fact]
    public async Task EmptyAnswer_FailsIpCidr_ButPassesASetWithAcceptEmpty()
    {
        _local.Answer = q => Msg.Response(q.Raw); // NODATA
        await using var strict = Server("""[{ "rule_set": "geoip-cn", "server": "local" }]""", GeoipCn);
        await using var lenient = Server("""[{ "rule_set": "geoip-cn", "rule_set_ip_cidr_accept_empty": true, "server": "local" }]""", GeoipCn);

        Assert.Equal([Remote], Msg.Addresses(await strict.Ask("in.example")));
        Assert.Empty(Msg.Addresses(await lenient.Ask("in.example")));
        Assert.Equal(1, _remote.Count);
    }

    [Fact]
    public async Task IpAcceptAny_TakesAnyAddress_AndIpIsPrivate_OnlyPrivateOnes()
    {
        await using var any = Server("""[{ "ip_accept_any": true, "server": "local" }]""");
        await using var privateOnly = Server("""[{ "ip_is_private": true, "server": "local" }]""");

        Assert.Equal([OutsideCn], Msg.Addresses(await any.Ask("out.example")));
        Assert.Equal([Remote], Msg.Addresses(await privateOnly.Ask("out.example")));   // 198.51.100.7 is documentation space, not private
    }

    [Fact]
    public async Task NameItemsMatch_TheAnswerIsTakenWithoutTestingIt()
    {
        // (domain | ip_cidr): a name that matches needs no address test, as sing-box's merged destination group.
        await using var server = Server("""[{ "domain": "out.example", "ip_cidr": ["192.0.2.0/24"], "server": "local" }]""");

        Assert.Equal([OutsideCn], Msg.Addresses(await server.Ask("out.example")));
        Assert.Equal(0, _remote.Count);
    }

    [Theory]
    [InlineData("""[{ "ip_cidr": ["10.0.0.0/8"], "action": "reject" }]""", "dns.rules[0]", "need \"action\": \"route\"")]
    [InlineData("""[{ "ip_cidr": ["10.0.0.0/8"], "invert": true, "server": "u" }]""", "dns.rules[0].invert", "not supported by Sluice yet")]
    [InlineData("""[{ "type": "logical", "mode": "and", "rules": [{ "ip_accept_any": true }], "server": "u" }]""", "dns.rules[0]", "inside a logical DNS rule")]
    [InlineData("""[{ "ip_cidr": ["10.0.0.0/33"], "server": "u" }]""", "dns.rules[0].ip_cidr[0]", "")]
    public void AddressFilter_WhereItCannotWork_IsAnErrorAtItsPath(string rules, string path, string phrase)
    {
        var errors = ConfigLoader.Validate("""{"dns":{"servers":[{"type":"udp","tag":"u","server":"1.1.1.1"}],"rules":RULES}}""".Replace("RULES", rules, StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Path == path && e.Message.Contains(phrase, StringComparison.Ordinal));
    }
}
