using Sluice.Core.Configuration;
using Sluice.Core.Tun;

namespace Sluice.Core.Tests.Configuration;

public class ConfigLoaderTests
{
    private const string FullConfig = """
        {
          "$schema": "https://example.invalid/schema.json",
          // comments and trailing commas are accepted, as sing-box does
          "log": { "level": "debug", "timestamp": false, "output": "/var/log/sluice.log" },
          "inbounds": [
            {
              "type": "tun",
              "tag": "tun0",
              "interface_name": "sl0",
              "address": ["172.19.0.1/30", "fdfe:dcba:9876::1/126"],
              "mtu": 1500,
              "auto_route": true,
              "strict_route": true,
              "stack": "system",
              "route_address": "0.0.0.0/1",
              "route_exclude_address": ["192.168.0.0/16", "fc00::/7"],
            },
          ],
          "outbounds": [
            { "type": "direct", "tag": "direct", "bind_interface": "eth0", "routing_mark": "0x1234", "connect_timeout": "1m30s" },
            { "type": "direct", "tag": "lan" },
            { "type": "block", "tag": "block" },
          ],
          "route": {
            "rules": [
              { "action": "sniff", "sniffer": ["tls", "http"], "timeout": "1s" },
              { "protocol": "dns", "action": "hijack-dns" },
              { "process_name": "curl-blocked", "action": "reject" },
              { "port": 853, "network": "tcp", "action": "reject", "method": "drop" },
              { "ip_is_private": true, "outbound": "lan" },
              { "domain_suffix": [".example.org", "example.com"], "port_range": ["1000:2000", ":80", "4000:"], "action": "route", "outbound": "block" },
              { "user_id": [1000, 1001], "source_port": 5000, "source_port_range": "6000:7000", "source_ip_cidr": "10.0.0.0/8", "inbound": "tun0", "outbound": "direct" },
              { "process_path": "/usr/bin/wget", "process_path_regex": "^/opt/.+", "domain": "a.test", "domain_keyword": "ads", "domain_regex": "^x\\.", "outbound": "direct" },
              {
                "type": "logical", "mode": "or", "invert": true,
                "rules": [ { "network": "udp" }, { "type": "logical", "mode": "and", "rules": [ { "port": 80 }, { "ip_cidr": "1.1.1.1" } ] } ],
                "outbound": "direct"
              },
            ],
            "final": "direct",
            "auto_detect_interface": true,
            "default_mark": 4660,
          },
        }
        """;

    [Theory]
    [InlineData("""{"route":{"default_interface":"wlan0"}}""", "wlan0")]
    [InlineData("""{"route":{"default_interface":""}}""", null)] // exported configs write "" for none
    [InlineData("""{"route":{}}""", null)]
    public void DefaultInterface_IsRead_EmptyMeaningNone(string json, string? expected) =>
        Assert.Equal(expected, ConfigLoader.Load(json).Route.DefaultInterface);

    [Fact]
    public void FullConfig_Loads_EveryField()
    {
        var c = ConfigLoader.Load(FullConfig);

        Assert.Equal(new LogOptions(false, "debug", false, "/var/log/sluice.log"), c.Log);
        var tun = Assert.Single(c.TunInbounds);
        Assert.Equal("tun0", tun.Tag);
        Assert.Equal("sl0", tun.InterfaceName);
        Assert.Equal([IpPrefix.Parse("172.19.0.1/30"), IpPrefix.Parse("fdfe:dcba:9876::1/126")], tun.Address);
        Assert.Equal(1500, tun.Mtu);
        Assert.True(tun.AutoRoute);
        Assert.True(tun.StrictRoute);
        Assert.Equal("system", tun.Stack);
        Assert.Equal([IpPrefix.Parse("0.0.0.0/1")], tun.RouteAddress);
        Assert.Equal([IpPrefix.Parse("192.168.0.0/16"), IpPrefix.Parse("fc00::/7")], tun.RouteExcludeAddress);

        Assert.Equal(3, c.Outbounds.Count);
        var direct = Assert.IsType<DirectOutboundOptions>(c.Outbounds[0]);
        Assert.Equal(new DialOptions("eth0", 0x1234, TimeSpan.FromSeconds(90)), direct.Dial);
        Assert.Equal(DialOptions.Default, Assert.IsType<DirectOutboundOptions>(c.Outbounds[1]).Dial);
        Assert.Equal(new BlockOutboundOptions("block"), c.Outbounds[2]);

        Assert.Equal("direct", c.Route.Final);
        Assert.True(c.Route.AutoDetectInterface);
        Assert.Equal(4660u, c.Route.DefaultMark);
        var rules = c.Route.Rules;
        Assert.Equal(9, rules.Count);
        var sniff = Assert.IsType<SniffAction>(rules[0].Action);
        Assert.Equal(["tls", "http"], sniff.Sniffers);
        Assert.Equal(TimeSpan.FromSeconds(1), sniff.Timeout);
        Assert.IsType<HijackDnsAction>(rules[1].Action);
        Assert.Equal(new RejectAction(false), rules[2].Action);
        Assert.Equal(["curl-blocked"], ((DefaultRuleOptions)rules[2]).ProcessName);
        Assert.Equal(new RejectAction(true), rules[3].Action);
        Assert.True(((DefaultRuleOptions)rules[4]).IpIsPrivate);
        var r5 = (DefaultRuleOptions)rules[5];
        Assert.Equal([".example.org", "example.com"], r5.DomainSuffix);
        Assert.Equal([new PortRange(1000, 2000), new PortRange(0, 80), new PortRange(4000, 65535)], r5.PortRange);
        Assert.Equal(new RouteAction("block"), r5.Action);
        var r6 = (DefaultRuleOptions)rules[6];
        Assert.Equal([1000u, 1001u], r6.UserId);
        Assert.Equal([(ushort)5000], r6.SourcePort);
        Assert.Equal([new PortRange(6000, 7000)], r6.SourcePortRange);
        Assert.Equal(["tun0"], r6.Inbound);
        var r7 = (DefaultRuleOptions)rules[7];
        Assert.Equal(["/usr/bin/wget"], r7.ProcessPath);
        Assert.Equal(["^/opt/.+"], r7.ProcessPathRegex);
        Assert.Equal(["ads"], r7.DomainKeyword);
        var logical = Assert.IsType<LogicalRuleOptions>(rules[8]);
        Assert.True(logical.Invert);
        Assert.Equal(LogicalMode.Or, logical.Mode);
        Assert.Null(logical.Rules[0].Action);
        Assert.Equal(LogicalMode.And, Assert.IsType<LogicalRuleOptions>(logical.Rules[1]).Mode);
        Assert.NotNull(c.Raw);
        Assert.Empty(ConfigLoader.Validate(FullConfig));
    }

    [Fact]
    public void EmptyConfig_GetsDefaults_AndAnImpliedDirectOutbound()
    {
        var c = ConfigLoader.Load("{}");
        Assert.Equal(LogOptions.Default, c.Log);
        Assert.Equal(new LogOptions(false, "info", true, null), c.Log);
        Assert.Empty(c.TunInbounds);
        var direct = Assert.IsType<DirectOutboundOptions>(Assert.Single(c.Outbounds));
        Assert.Equal("direct", direct.Tag);
        Assert.Equal(TimeSpan.FromSeconds(5), direct.Dial.ConnectTimeout);
        Assert.Empty(c.Route.Rules);
        Assert.Null(c.Route.DefaultMark);
        Assert.Equal("direct", c.DefaultOutbound);
    }

    [Fact]
    public void TunInbound_Defaults()
    {
        var tun = Assert.Single(ConfigLoader.Load("""{"inbounds":[{"type":"tun","address":"172.19.0.1/30"}]}""").TunInbounds);
        Assert.Equal(("tun-in", "sluice0", 65535, "system", false, false), (tun.Tag, tun.InterfaceName, tun.Mtu, tun.Stack, tun.AutoRoute, tun.StrictRoute));
    }

    [Fact]
    public void ScalarForArray_IsAccepted_Everywhere()
    {
        var c = ConfigLoader.Load("""
            { "route": { "rules": [ { "ip_cidr": "10.0.0.0/8", "port": 443, "port_range": "1:2", "network": "tcp",
              "process_name": "curl", "user_id": 0, "domain": "a.b", "outbound": "direct" } ] } }
            """);
        var r = (DefaultRuleOptions)c.Route.Rules[0];
        Assert.Equal([IpPrefix.Parse("10.0.0.0/8")], r.IpCidr);
        Assert.Equal([(ushort)443], r.Port);
        Assert.Equal([new PortRange(1, 2)], r.PortRange);
        Assert.Equal(["tcp"], r.Network);
        Assert.Equal(["curl"], r.ProcessName);
        Assert.Equal([0u], r.UserId);
        Assert.Equal(["a.b"], r.Domain);
    }

    [Fact]
    public void Errors_AreAllReported_NotJustTheFirst()
    {
        var errors = ConfigLoader.Validate("""
            { "log": { "level": "loud" }, "inbounds": [ { "type": "tun", "address": "x", "mtu": 10 } ],
              "route": { "rules": [ { "port": -1, "outbound": "nope" } ], "final": "missing" }, "ntp": { "enabled": true } }
            """);
        Assert.Equal(
            ["log.level", "inbounds[0].address", "inbounds[0].mtu", "route.rules[0].port", "ntp", "route.rules[0].outbound", "route.final"],
            errors.Select(e => e.Path));
    }

    [Fact]
    public void Load_Throws_ConfigException_WithEveryErrorAsALine()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load("""{ "a": 1, "b": 2 }"""));
        Assert.Equal(2, e.Errors.Count);
        Assert.Equal("a: unknown field\nb: unknown field", e.Message);
    }

    [Fact]
    public void LoadFile_MissingFile_SaysSoWithEmptyPath()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.LoadFile("/nonexistent/sluice.json"));
        var error = Assert.Single(e.Errors);
        Assert.Equal("", error.Path);
        Assert.Contains("/nonexistent/sluice.json does not exist", error.Message);
    }

    [Fact]
    public void LoadFile_ReadsTheFile()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, """{"route":{"final":"direct"}}""");
            Assert.Equal("direct", ConfigLoader.LoadFile(path).Route.Final);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("""{"route":{"rules":[{"ip_cidr":["10.0.0.0/8","10.0.0.0/33"],"outbound":"direct"}]}}""", "route.rules[0].ip_cidr[1]", "\"10.0.0.0/33\" is not a CIDR")]
    [InlineData("""{"inbounds":[{"type":"tun","address":"172.19.0.1/30","mtu":true}]}""", "inbounds[0].mtu", "expected a number, got boolean")]
    [InlineData("""{"outbounds":[{"type":"direct"},{"type":"tuic"}]}""", "outbounds[1].type", "is not supported")]
    [InlineData("""{"endpoints":[{"type":"wireguard","address":"10.0.0.2/32","private_key":"x","peers":[]}]}""", "endpoints[0].private_key", "is not a WireGuard key")]
    [InlineData("""{"endpoints":[{"type":"tailscale"}]}""", "endpoints[0].type", "not supported")]
    [InlineData("""{"whatever":1}""", "whatever", "unknown field")]
    [InlineData("""{"route":{"rules":[{"domain":"a","outbound":"direct","color":"red"}]}}""", "route.rules[0].color", "unknown field")]
    [InlineData("""{"route":{"rules":[{"port_range":"1000","outbound":"direct"}]}}""", "route.rules[0].port_range", "not a port range")]
    [InlineData("""{"route":{"rules":[{"port_range":"1000:x","outbound":"direct"}]}}""", "route.rules[0].port_range", "not a port range")]
    [InlineData("""{"route":{"rules":[{"port_range":":","outbound":"direct"}]}}""", "route.rules[0].port_range", "not a port range")]
    [InlineData("""{"route":{"rules":[{"port_range":"1:2:3","outbound":"direct"}]}}""", "route.rules[0].port_range", "not a port range")]
    [InlineData("""{"route":{"rules":[{"port_range":"1:70000","outbound":"direct"}]}}""", "route.rules[0].port_range", "not a port range")]
    [InlineData("""{"route":{"final":"proxy"}}""", "route.final", "no outbound has tag \"proxy\"")]
    [InlineData("""{"route":{"rules":[{"process_path_regex":"[","outbound":"direct"}]}}""", "route.rules[0].process_path_regex", "not a valid regular expression")]
    [InlineData("""{"route":{"rules":[{"domain_regex":"(a)\\1","outbound":"direct"}]}}""", "route.rules[0].domain_regex", "not a valid regular expression")]
    [InlineData("""{"route":{"rules":[{"port":80,"action":"reject","method":"rst"}]}}""", "route.rules[0].method", "unknown method")]
    [InlineData("""{"route":{"rules":[{"port":80,"action":"reject","outbound":"direct"}]}}""", "route.rules[0].outbound", "only allowed with \"action\": \"route\"")]
    [InlineData("""{"route":{"rules":[{"type":"logical","mode":"and","rules":[{"port":1,"outbound":"direct"}],"outbound":"direct"}]}}""", "route.rules[0].rules[0].outbound", "have no action")]
    [InlineData("""{"route":{"rules":[{"type":"logical","mode":"xor","rules":[{"port":1}],"outbound":"direct"}]}}""", "route.rules[0].mode", "unknown mode")]
    [InlineData("""{"route":{"rules":[{"inbound":"tun-x","outbound":"direct"}]}}""", "route.rules[0].inbound", "no inbound has tag")]
    [InlineData("""{"route":{"rules":[{"action":"sniff","timeout":"fast"}]}}""", "route.rules[0].timeout", "not a duration")]
    [InlineData("""{"route":{"rules":[{"protocol":"gopher","outbound":"direct"}]}}""", "route.rules[0].protocol", "unknown protocol")]
    [InlineData("""{"route":{"rules":[{"user_id":"root","outbound":"direct"}]}}""", "route.rules[0].user_id", "expected a number, got string")]
    [InlineData("""{"route":{"rules":[{"rule_set":"geoip-cn","outbound":"direct"}]}}""", "route.rules[0].rule_set", "no rule set has tag \"geoip-cn\": define it in route.rule_set")]
    [InlineData("""{"route":{"default_mark":"0xzz"}}""", "route.default_mark", "is not a mark")]
    [InlineData("""{"route":{"default_mark":0}}""", "route.default_mark", "0 is every unmarked packet")]
    [InlineData("""{"route":{"default_mark":"0x0"}}""", "route.default_mark", "0 is every unmarked packet")]
    [InlineData("""{"route":{"default_interface":"a/b"}}""", "route.default_interface", "not a valid interface name")]
    [InlineData("""{"route":{"default_interface":"sixteen-chars-xx"}}""", "route.default_interface", "not a valid interface name")]
    [InlineData("""{"outbounds":[{"type":"direct","bind_interface":"eth0:1"}]}""", "outbounds[0].bind_interface", "not a valid interface name")]
    [InlineData("""{"inbounds":[{"type":"tun","address":["172.19.0.1/30","fd00::1/127"]}]}""", "inbounds[0].address[1]", "/126 or shorter")]
    [InlineData("""{"inbounds":[{"type":"tun"}]}""", "inbounds[0].address", "required")]
    [InlineData("""{"inbounds":[{"type":"tun","address":"172.19.0.1/30"},{"type":"tun","address":"172.20.0.1/30"}]}""", "inbounds[1]", "only one \"tun\" inbound")]
    [InlineData("""{"inbounds":[{"type":"tun","address":"172.19.0.1/30","gso":true}]}""", "inbounds[0].gso", "not supported by Sluice")]
    [InlineData("""{"log":{"level":"info","level":"debug"}}""", "log.level", "duplicate field")]
    [InlineData("""[]""", "", "expected an object, got array")]
    [InlineData("""{"outbounds":[{"type":"direct","connect_timeout":5}]}""", "outbounds[0].connect_timeout", "expected a duration string")]
    public void BrokenConfig_NamesThePath(string json, string path, string phrase)
    {
        var errors = ConfigLoader.Validate(json);
        Assert.NotEmpty(errors);
        Assert.Contains(errors, e => e.Path == path && e.Message.Contains(phrase, StringComparison.Ordinal));
    }

    [Fact]
    public void InvalidJson_IsOneError_WithLineAndByte()
    {
        var error = Assert.Single(ConfigLoader.Validate("{\n  \"log\": {\n    \"level\": \"info\"\n  \n"));
        Assert.StartsWith("invalid JSON at line ", error.Message);
    }

    public static TheoryData<string> BrokenFiles()
    {
        var data = new TheoryData<string>();
        foreach (string file in Directory.GetFiles(BrokenFolder, "*.json").Order(StringComparer.Ordinal))
            data.Add(Path.GetFileNameWithoutExtension(file));
        return data;
    }

    private static string BrokenFolder => Path.Combine(AppContext.BaseDirectory, "Configuration", "broken");

    [Fact]
    public void BrokenFolder_HasAtLeastTenCases() => Assert.True(BrokenFiles().Count >= 10);

    /// <summary>Each broken/NN-name.json fails with the first error line in NN-name.expected.</summary>
    [Theory]
    [MemberData(nameof(BrokenFiles))]
    public void BrokenFile_FirstError_IsTheExpectedLine(string name)
    {
        string expected = File.ReadAllText(Path.Combine(BrokenFolder, name + ".expected")).TrimEnd('\r', '\n');
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.LoadFile(Path.Combine(BrokenFolder, name + ".json")));
        // An .expected line may stop early (e.g. before a list of supported types that grows).
        Assert.StartsWith(expected, e.Errors[0].ToString());
        Assert.StartsWith(expected, e.Message.Split('\n')[0]);
    }

    [Theory]
    [InlineData("300ms", 300)]
    [InlineData("5s", 5000)]
    [InlineData("1m", 60000)]
    [InlineData("1m30s", 90000)]
    [InlineData("1.5h", 5400000)]
    [InlineData("0", 0)]
    [InlineData("1d", 86400000)] // sing-box's day, the default of a rule set's update_interval
    [InlineData("1d12h", 129600000)]
    public void Duration_ParsesGoSyntax(string text, int milliseconds)
    {
        Assert.True(GoDuration.TryParse(text, out var d));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), d);
    }

    [Theory]
    [InlineData("")]
    [InlineData("5")]
    [InlineData("5 s")]
    [InlineData("5x")]
    [InlineData("s")]
    public void Duration_RejectsGarbage(string text) => Assert.False(GoDuration.TryParse(text, out _));

    [Fact]
    public void Defaults_AreDocumentedNumbers()
    {
        Assert.Equal(0x534cu, ConfigDefaults.FwMark);
        Assert.Equal(5140, ConfigDefaults.RouteTable);
        Assert.Equal(9100, ConfigDefaults.RulePriority);
    }
}
