using Sluice.Hosting.Linux;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// The client examples of sing-box's manual (docs/manual/proxy/client.md), written into ManualExamples/
/// with only server addresses and keys moved to the testbed: each passes `sluice check`, and the basic
/// TUN example runs in the namespace testbed with apps' traffic going where its rules say.
/// </summary>
public sealed class ManualExampleTests
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(60);

    private static string ExamplesDir => Path.Combine(AppContext.BaseDirectory, "ManualExamples");

    public static TheoryData<string> Examples()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(ExamplesDir, "*.json").Order()) data.Add(Path.GetFileName(file));
        return data;
    }

    [Fact]
    public void ManualExamples_AllSixAreThere() => Assert.Equal(6, Examples().Count);

    [Theory]
    [MemberData(nameof(Examples))]
    public void ManualExample_PassesCheck(string name)
    {
        var result = Exec.Run(TimeSpan.FromSeconds(30), [.. SluiceBinary.Command(), "check", "-c", Path.Combine(ExamplesDir, name)]);

        Assert.True(result.Ok, result.ToString());
        Assert.Contains(": ok", result.Stdout);
    }

    /// <summary>
    /// "Basic TUN usage, IPv4 only": every app lookup is hijacked and answered by "google" (DoT, which
    /// knows site.example as the hidden server), never by "local" (plain UDP, which lies: the public
    /// server); a private address goes direct; everything else takes the first outbound, the proxy.
    /// The hidden server is reachable only through the proxy, so "served by" it proves both the DoT
    /// answer and the proxy lane; the address a server sees tells direct (the client's) from proxied.
    /// </summary>
    [Fact]
    public void TunIpv4Example_RunsInTheTestbed_DnsOverDot_PrivateDirect_RestThroughTheProxy()
    {
        using var testbed = NamespaceTestbed.Create();
        testbed.AddHiddenServer();
        testbed.SetResolvConf(testbed.Client, $"nameserver {NamespaceTestbed.RouterV4}\n");
        var dns = new DnsPeers(testbed);
        dns.StartDnsmasq(NamespaceTestbed.RouterV4, 53, $"/site.example/{NamespaceTestbed.ServerV4}");
        string ca = dns.StartDot(NamespaceTestbed.RouterV4, $"/site.example/{NamespaceTestbed.HiddenV4}");
        ProxyPeers.StartShadowsocks(testbed, "aes-128-gcm");
        // Positive control: without Sluice the app believes the lying resolver.
        Assert.Equal(NamespaceTestbed.ServerV4, testbed.RunInClient(Long, "dig", "+short", "+time=3", "+tries=1", "site.example").Stdout.Trim());

        int lanQueriesBefore = dns.QueriesSeenBy(NamespaceTestbed.RouterV4, 53).Count;
        string config = Path.Combine(testbed.WorkDir, "tun-ipv4-only.json");
        File.Copy(Path.Combine(ExamplesDir, "tun-ipv4-only.json"), config);
        var engine = new EngineProcess(testbed.StartIn(testbed.Client, ["env", $"SSL_CERT_FILE={ca}", .. SluiceBinary.Command(), "run", "-c", config])).WaitStarted();

        string Curl(string url)
        {
            var r = testbed.RunInClient(Long, "curl", "-sS", "--max-time", "10", url);
            return r.Ok ? r.Stdout.Trim() : "failed: " + r + "\n" + engine.Log;
        }

        Assert.Equal($"served by {NamespaceTestbed.HiddenV4}", Curl($"http://site.example:{NamespaceTestbed.HttpPort}/site"));
        Assert.Equal(NamespaceTestbed.ClientV4, Curl($"http://{NamespaceTestbed.RouterV4}:{NamespaceTestbed.HttpPort}/whoami"));
        Assert.Equal(NamespaceTestbed.ServerV4, Curl(EngineConfigs.ServerUrl()));
        // strategy ipv4_only: AAAA is answered empty without asking anyone.
        var aaaa = testbed.RunInClient(Long, "dig", "+short", "+time=3", "+tries=1", "AAAA", "site.example");
        Assert.True(aaaa.Ok && aaaa.Stdout.Trim() == "", aaaa + "\n" + engine.Log);
        var lanQueries = dns.QueriesSeenBy(NamespaceTestbed.RouterV4, 53).Skip(lanQueriesBefore).ToList();
        Assert.True(lanQueries.Count == 0, string.Join("\n", lanQueries) + "\n" + engine.Log);
    }
}

/// <summary>dnsmasq resolvers and a dnsdist DoT front in the router namespace, for tests that run a config's DNS against real servers.</summary>
internal sealed class DnsPeers(NamespaceTestbed testbed)
{
    private const string BackendAddress = "127.0.0.1";
    private const int BackendPort = 5354;

    /// <summary>A dnsmasq answering these `/name/address` entries (NXDOMAIN for the rest), its queries logged to a file.</summary>
    public void StartDnsmasq(string listen, int port, params string[] addresses)
    {
        string name = $"dnsmasq-{listen}-{port}";
        var argv = new List<string> { "dnsmasq", "--keep-in-foreground", "--user=root", "--no-resolv", "--no-hosts", "--bind-interfaces", "--log-queries",
            "--log-facility=" + LogOf(listen, port), $"--listen-address={listen}", $"--port={port}", $"--pid-file={Path.Combine(testbed.WorkDir, name + ".pid")}" };
        argv.AddRange(addresses.Select(a => "--address=" + a));
        var process = testbed.StartIn(testbed.Router, [.. argv]);
        string probeName = addresses[0].Split('/')[1];
        for (int i = 0; i < 50; i++)
        {
            var probe = testbed.RunInRouter(TimeSpan.FromSeconds(5), "dig", "+short", "+time=1", "+tries=1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), $"@{listen}", probeName);
            if (probe.Ok && probe.Stdout.Trim().Length > 0) return;
            if (process.HasExited) throw new InvalidOperationException("dnsmasq exited: " + process.StandardError.ReadToEnd());
            Thread.Sleep(100);
        }
        throw new InvalidOperationException($"dnsmasq on {listen}:{port} did not answer");
    }

    private string LogOf(string listen, int port) => Path.Combine(testbed.WorkDir, $"dnsmasq-{listen}-{port}.log");

    /// <summary>The query lines a dnsmasq of <see cref="StartDnsmasq"/> logged so far.</summary>
    public IReadOnlyList<string> QueriesSeenBy(string listen, int port) =>
        File.Exists(LogOf(listen, port)) ? File.ReadAllLines(LogOf(listen, port)).Where(l => l.Contains("query[", StringComparison.Ordinal)).ToList() : [];

    /// <summary>
    /// DNS over TLS on <paramref name="listen"/>:853 (dnsdist, a self-signed certificate for that IP address) in
    /// front of a dnsmasq on the router's loopback with these answers; returns the certificate to trust.
    /// </summary>
    public string StartDot(string listen, params string[] addresses)
    {
        StartDnsmasq(BackendAddress, BackendPort, addresses);
        string cert = Path.Combine(testbed.WorkDir, "dot-cert.pem"), key = Path.Combine(testbed.WorkDir, "dot-key.pem");
        Exec.Check("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", $"/CN={listen}",
            "-addext", $"subjectAltName=IP:{listen}", "-keyout", key, "-out", cert);
        string conf = Path.Combine(testbed.WorkDir, "dnsdist-dot.conf");
        File.WriteAllText(conf, $$"""
            setLocal("127.0.0.1:5301")
            addTLSLocal("{{listen}}:853", "{{cert}}", "{{key}}")
            newServer({address="{{BackendAddress}}:{{BackendPort}}", checkName="{{addresses[0].Split('/')[1]}}."})
            setServerPolicy(firstAvailable)
            """);
        var dot = testbed.StartIn(testbed.Router, "dnsdist", "--supervised", "--disable-syslog", "-C", conf);
        for (int i = 0; i < 50; i++)
        {
            var probe = testbed.RunInRouter(TimeSpan.FromSeconds(5), "dig", "+short", "+tls", "+time=1", "+tries=1", "-p", "853", $"@{listen}", addresses[0].Split('/')[1]);
            if (probe.Ok && probe.Stdout.Trim().Length > 0) return cert;
            if (dot.HasExited) throw new InvalidOperationException("dnsdist (DoT) exited: " + dot.StandardError.ReadToEnd());
            Thread.Sleep(200);
        }
        throw new InvalidOperationException("dnsdist's DoT endpoint did not answer");
    }
}
