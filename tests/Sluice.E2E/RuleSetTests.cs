using Sluice.Core.RuleSets;
using Sluice.Core.RuleSets.Srs;
using Sluice.Hosting.Linux;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// A geosite-style remote binary rule set served over HTTPS at the router's hidden address (which the
/// client cannot reach itself), fetched through microsocks as its download_detour. Apps name servers
/// by host (curl --resolve, the HTTP Host sniffed): a listed name goes through microsocks, which the
/// HTTP server sees as a connection from the router's own address; any other name goes direct, from
/// the client's. The Clash mode, switched through the Clash API, moves new connections the same way.
/// </summary>
public sealed class RuleSetTests : IDisposable
{
    private const int HttpsPort = 8444;
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();
    private readonly HttpsSite _site;
    private readonly string _state;

    public RuleSetTests()
    {
        _testbed.AddHiddenServer();
        ProxyPeers.StartMicrosocks(_testbed);
        _site = new HttpsSite(_testbed, "sets", NamespaceTestbed.HiddenV4, HttpsPort);
        _state = Path.Combine(_testbed.WorkDir, "state");
    }

    public void Dispose() => _testbed.Dispose();

    private static byte[] Geosite(params string[] suffixes) =>
        SrsWriter.Write(new RuleSetContent(2, [new DefaultHeadlessRule { DomainSuffix = suffixes }]));

    private static string Socks => ProxyPeers.Socks("socks", ProxyPeers.MicrosocksPort, ProxyPeers.User, ProxyPeers.Password);

    private string RemoteSetConfig(string extraRules = "", string experimental = "", string file = "geosite-test.srs") => $$"""
        {
          "log": {"level": "info"},
          "inbounds": [{ "type": "tun", "tag": "tun-in", "interface_name": "sluice0", "address": ["172.19.0.1/30"], "auto_route": true }],
          "outbounds": [{"type": "direct", "tag": "direct"}, {{Socks}}],
          "route": {
            "rule_set": [{ "type": "remote", "tag": "geosite-test", "url": "{{_site.Url(file)}}",
                           "download_detour": "socks", "update_interval": "10s" }],
            "rules": [ {"action": "sniff"}, {{extraRules}} {"rule_set": "geosite-test", "outbound": "socks"} ],
            "final": "direct"
          }{{experimental}}
        }
        """;

    /// <summary>`sluice run` trusting the test certificate (SSL_CERT_FILE) and keeping state in the test's folder.</summary>
    private EngineProcess StartEngine(string config)
    {
        string path = Path.Combine(_testbed.WorkDir, "config.json");
        File.WriteAllText(path, config);
        var process = _testbed.StartIn(_testbed.Client, ["env", $"SSL_CERT_FILE={_site.CertFile}", $"SLUICE_STATE_DIR={_state}", .. SluiceBinary.Command(), "run", "-c", path]);
        return new EngineProcess(process);
    }

    /// <summary>The address the HTTP server saw for a request to <paramref name="host"/> (resolved to the server by curl).</summary>
    private string SourceSeenFor(string host)
    {
        var result = _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "10", "--resolve", $"{host}:{NamespaceTestbed.HttpPort}:{NamespaceTestbed.ServerV4}",
            $"http://{host}:{NamespaceTestbed.HttpPort}/whoami");
        return result.Ok ? result.Stdout.Trim() : "failed: " + result;
    }

    [Fact]
    public void RemoteSet_FetchedThroughItsDetour_RoutesListedNamesToTheProxy_AndSurvivesServerLossAndCorruption()
    {
        _site.Serve("geosite-test.srs", Geosite("listed.test"));
        var https = _site.Start();
        var engine = StartEngine(RemoteSetConfig()).WaitStarted();
        Assert.True(engine.WaitFor("rule set geosite-test: downloaded", Wait), engine.Log);

        string seen = SourceSeenFor("www.listed.test");
        Assert.True(seen == NamespaceTestbed.ServerV4, seen + "\n" + engine.Log);
        Assert.Equal(NamespaceTestbed.ClientV4, SourceSeenFor("other.test"));

        // A corrupt body at the next refresh: the old set stays, and the log says why.
        _site.Serve("geosite-test.srs", "SRS\u0002 this is not zlib"u8.ToArray());
        Assert.True(engine.WaitFor("rule set geosite-test: refresh from", Wait), engine.Log);
        Assert.Contains(engine.Lines, l => l.Contains("keeping the set from", StringComparison.Ordinal) && l.Contains("zlib", StringComparison.Ordinal));
        Assert.Equal(NamespaceTestbed.ServerV4, SourceSeenFor("www.listed.test"));

        // The server goes away and the engine restarts: the cached set is used at once.
        Exec.Kill(https);
        engine.Signal(15);
        Assert.True(engine.WaitForExit(TimeSpan.FromSeconds(20)), engine.Log);
        var again = StartEngine(RemoteSetConfig()).WaitStarted();
        Assert.True(again.WaitFor("rule set geosite-test: using the cached copy", Wait), again.Log);
        Assert.Equal(NamespaceTestbed.ServerV4, SourceSeenFor("www.listed.test"));
        Assert.Equal(NamespaceTestbed.ClientV4, SourceSeenFor("other.test"));
    }

    [Fact]
    public void RemoteSet_FirstDownloadFailingWithoutCache_StopsTheStart_NamingTheSet()
    {
        // No HTTPS server at all.
        var engine = StartEngine(RemoteSetConfig());
        Assert.True(engine.WaitForExit(TimeSpan.FromSeconds(60)), engine.Log);
        Assert.NotEqual(0, engine.ExitCode);
        Assert.Contains("rule set \"geosite-test\": the first download from", engine.Log);
    }

    [Fact]
    public void ClashMode_SwitchedThroughTheClashApi_MovesNewConnections_AndSurvivesARestart()
    {
        _site.Serve("geosite-test.srs", Geosite("listed.test"));
        _site.Start();
        string cacheFile = Path.Combine(_testbed.WorkDir, "cache.json");
        string config = RemoteSetConfig(
            extraRules: """{"clash_mode": "Global", "outbound": "socks"}, {"clash_mode": "Direct", "outbound": "direct"},""",
            experimental: $$$""", "experimental": {"cache_file": {"enabled": true, "path": "{{{cacheFile}}}"}, "clash_api": {"default_mode": "Rule"}}""");
        // The daemon's engine trusts the test certificate through the daemon's environment.
        var daemon = DaemonUnderTest.Start(_testbed, environment: [$"SSL_CERT_FILE={_site.CertFile}", $"SLUICE_STATE_DIR={_state}"]);
        var path = daemon.WriteConfig(config);
        Assert.Equal(0, daemon.Core("up", $$"""{"config_path": "{{path}}"}""").GetProperty("code").GetInt32());

        Assert.Equal("Rule", daemon.Get("/configs").GetProperty("mode").GetString());
        Assert.Equal(NamespaceTestbed.ServerV4, SourceSeenFor("a.listed.test"));
        Assert.Equal(NamespaceTestbed.ClientV4, SourceSeenFor("other.test"));

        Assert.Equal("204", Patch(daemon, "global"));
        Assert.Equal("Global", daemon.Get("/configs").GetProperty("mode").GetString());
        Assert.Equal(NamespaceTestbed.ServerV4, SourceSeenFor("other.test"));

        Assert.Equal("204", Patch(daemon, "direct"));
        Assert.Equal(NamespaceTestbed.ClientV4, SourceSeenFor("a.listed.test"));
        Assert.Equal("400", Patch(daemon, "turbo"));

        // Restart the daemon: the engine comes back in the mode the cache file kept.
        daemon.Process.Signal(9);
        daemon.Process.WaitForExit(TimeSpan.FromSeconds(20));
        daemon.Launch();
        Assert.True(daemon.WaitForState("connected", Wait), daemon.Process.Log);
        Assert.Equal("Direct", daemon.Get("/configs").GetProperty("mode").GetString());
        Assert.Equal(NamespaceTestbed.ClientV4, SourceSeenFor("a.listed.test"));
        Assert.Contains("\"Direct\"", File.ReadAllText(cacheFile));
    }

    /// <summary>
    /// A dashboard's rule-provider page: GET /providers/rules lists the remote set as an HTTP provider with its count;
    /// after the served list changes, PUT /providers/rules/{name} downloads it now and the new name is routed by it;
    /// an unknown provider is 404.
    /// </summary>
    [Fact]
    public void RuleProvider_UpdatedThroughTheClashApi_RoutesTheNewList()
    {
        _site.Serve("geosite-test.srs", Geosite("listed.test"));
        _site.Start();
        var daemon = DaemonUnderTest.Start(_testbed, environment: [$"SSL_CERT_FILE={_site.CertFile}", $"SLUICE_STATE_DIR={_state}"]);
        var path = daemon.WriteConfig(RemoteSetConfig());
        Assert.Equal(0, daemon.Core("up", $$"""{"config_path": "{{path}}"}""").GetProperty("code").GetInt32());

        var provider = daemon.Get("/providers/rules").GetProperty("providers").GetProperty("geosite-test");
        Assert.Equal("HTTP", provider.GetProperty("vehicleType").GetString());
        Assert.Equal(1, provider.GetProperty("ruleCount").GetInt64());
        Assert.Equal(NamespaceTestbed.ClientV4, SourceSeenFor("more.test"));

        _site.Serve("geosite-test.srs", Geosite("listed.test", "more.test"));
        Assert.Equal("204", Put(daemon, "/providers/rules/geosite-test"));
        Assert.Equal(2, daemon.Get("/providers/rules/geosite-test").GetProperty("ruleCount").GetInt64());
        Assert.Equal(NamespaceTestbed.ServerV4, SourceSeenFor("more.test"));
        Assert.Equal("404", Put(daemon, "/providers/rules/nonesuch"));
    }

    /// <summary>
    /// mihomo's binary set (.mrs), as MetaCubeX publishes its geosite lists, made by the independent encoder and served over
    /// HTTPS (its format told by the extension): fetched through the proxy, the names it lists go through the proxy and
    /// every other name goes direct; the Clash API lists it as mihomo does, an HTTP provider of format MrsRule with its count.
    /// </summary>
    [Fact]
    public void RemoteMrsDomainSet_SendsItsNamesThroughItsLane_AndOtherNamesToFinal()
    {
        _site.Serve("geosite-test.mrs", Sluice.Core.Tests.RuleSets.Mrs.MrsFiles.Encode("domain", ["+.listed.test", "exact.test", ".sub.test"]));
        _site.Start();
        var daemon = DaemonUnderTest.Start(_testbed, environment: [$"SSL_CERT_FILE={_site.CertFile}", $"SLUICE_STATE_DIR={_state}"]);
        var path = daemon.WriteConfig(RemoteSetConfig(file: "geosite-test.mrs"));
        Assert.Equal(0, daemon.Core("up", $$"""{"config_path": "{{path}}"}""").GetProperty("code").GetInt32());

        Assert.Equal(NamespaceTestbed.ServerV4, SourceSeenFor("listed.test"));
        Assert.Equal(NamespaceTestbed.ServerV4, SourceSeenFor("www.listed.test"));
        Assert.Equal(NamespaceTestbed.ServerV4, SourceSeenFor("exact.test"));
        Assert.Equal(NamespaceTestbed.ServerV4, SourceSeenFor("a.sub.test"));
        Assert.Equal(NamespaceTestbed.ClientV4, SourceSeenFor("sub.test"));
        Assert.Equal(NamespaceTestbed.ClientV4, SourceSeenFor("www.exact.test"));
        Assert.Equal(NamespaceTestbed.ClientV4, SourceSeenFor("other.test"));

        var provider = daemon.Get("/providers/rules").GetProperty("providers").GetProperty("geosite-test");
        Assert.Equal(("HTTP", "MrsRule", "Domain"), (provider.GetProperty("vehicleType").GetString(), provider.GetProperty("format").GetString(),
            provider.GetProperty("behavior").GetString()));
        Assert.Equal(3, provider.GetProperty("ruleCount").GetInt64());
    }

    /// <summary>
    /// A dashboard's rules page: /rules shows the rule-set rule as mihomo's RuleSet with its index and hit count; switched
    /// off with PATCH /rules/disable its names fall through to final (direct), switched on they go through the proxy
    /// again; an index the config lacks is 400.
    /// </summary>
    [Fact]
    public void Rule_SwitchedOffThroughTheClashApi_LetsItsNamesFallThrough_AndCountsItsHits()
    {
        _site.Serve("geosite-test.srs", Geosite("listed.test"));
        _site.Start();
        var daemon = DaemonUnderTest.Start(_testbed, environment: [$"SSL_CERT_FILE={_site.CertFile}", $"SLUICE_STATE_DIR={_state}"]);
        var path = daemon.WriteConfig(RemoteSetConfig());
        Assert.Equal(0, daemon.Core("up", $$"""{"config_path": "{{path}}"}""").GetProperty("code").GetInt32());

        Assert.Equal(NamespaceTestbed.ServerV4, SourceSeenFor("a.listed.test"));
        var rule = daemon.Get("/rules").GetProperty("rules")[1];
        Assert.Equal(("RuleSet", "geosite-test", 1), (rule.GetProperty("type").GetString(), rule.GetProperty("payload").GetString(), rule.GetProperty("index").GetInt32()));
        Assert.False(rule.GetProperty("extra").GetProperty("disabled").GetBoolean());
        Assert.True(rule.GetProperty("extra").GetProperty("hitCount").GetInt64() >= 1, rule.ToString());

        Assert.Equal("204", PatchRules(daemon, """{"1": true}"""));
        Assert.True(daemon.Get("/rules").GetProperty("rules")[1].GetProperty("extra").GetProperty("disabled").GetBoolean());
        Assert.Equal(NamespaceTestbed.ClientV4, SourceSeenFor("b.listed.test"));

        Assert.Equal("204", PatchRules(daemon, """{"1": false}"""));
        Assert.Equal(NamespaceTestbed.ServerV4, SourceSeenFor("c.listed.test"));
        Assert.Equal("400", PatchRules(daemon, """{"7": true}"""));
    }

    /// <summary>
    /// A mihomo config as users have it — a socks5 proxy, the sniffer on, an http rule provider in Clash's classical
    /// YAML fetched through that proxy, RULE-SET rules — imported with `sluice import` and run: names the provider lists
    /// go through the proxy, others direct, and the provider's line of a type Sluice cannot match is counted in the log.
    /// </summary>
    [Fact]
    public void ImportedClashConfig_WithAnHttpRuleProvider_RoutesTheProvidersNames()
    {
        _site.Serve("listed.yaml", "payload:\n  - DOMAIN-SUFFIX,listed.test\n  - GEOIP,CN\n  - DOMAIN,exact.test\n"u8.ToArray());
        _site.Start();
        string clash = Path.Combine(_testbed.WorkDir, "clash.yaml"), config = Path.Combine(_testbed.WorkDir, "imported.json");
        File.WriteAllText(clash, $$"""
            sniffer:
              enable: true
            proxies:
              - {name: socks, type: socks5, server: {{NamespaceTestbed.RouterV4}}, port: {{ProxyPeers.MicrosocksPort}}, username: {{ProxyPeers.User}}, password: {{ProxyPeers.Password}}}
            rule-providers:
              listed:
                type: http
                behavior: classical
                url: {{_site.Url("listed.yaml")}}
                interval: 600
                proxy: socks
            rules:
              - RULE-SET,listed,socks
              - MATCH,DIRECT
            """);
        var import = Exec.Run(Long, [.. SluiceBinary.Command(), "import", clash, "-o", config]);
        Assert.True(import.Ok, import.ToString());

        var process = _testbed.StartIn(_testbed.Client, ["env", $"SSL_CERT_FILE={_site.CertFile}", $"SLUICE_STATE_DIR={_state}", .. SluiceBinary.Command(), "run", "-c", config]);
        var engine = new EngineProcess(process).WaitStarted();
        Assert.True(engine.WaitFor("rule set listed: downloaded", Wait), engine.Log);
        Assert.Contains(engine.Lines, l => l.Contains("1 line(s) skipped, types Sluice does not match: GEOIP", StringComparison.Ordinal));

        Assert.Equal(NamespaceTestbed.ServerV4, SourceSeenFor("www.listed.test"));
        Assert.Equal(NamespaceTestbed.ServerV4, SourceSeenFor("exact.test"));
        Assert.Equal(NamespaceTestbed.ClientV4, SourceSeenFor("www.exact.test"));
        Assert.Equal(NamespaceTestbed.ClientV4, SourceSeenFor("other.test"));
    }

    private static string PatchRules(DaemonUnderTest daemon, string body) =>
        daemon.Unix("-o", "/dev/null", "-w", "%{http_code}", "-X", "PATCH", "-d", body, "http://localhost/rules/disable").Stdout.Trim();

    private static string Put(DaemonUnderTest daemon, string path) =>
        daemon.Unix("-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "http://localhost" + path).Stdout.Trim();

    private static string Patch(DaemonUnderTest daemon, string mode) =>
        daemon.Unix("-o", "/dev/null", "-w", "%{http_code}", "-X", "PATCH", "-d", "{\"mode\": \"" + mode + "\"}", "http://localhost/configs").Stdout.Trim();
}
