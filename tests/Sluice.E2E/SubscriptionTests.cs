using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// Subscriptions against a real HTTPS server in the router namespace (python3 http.server wrapped in
/// TLS, with a self-signed certificate made by `openssl req` here and trusted through ca_file) and
/// real ss-servers: a changed body moves the group, a garbage or unreachable body keeps the old list,
/// and a start without the provider uses the cached body.
/// </summary>
public sealed class SubscriptionTests : IDisposable
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private static readonly string Url = SubscriptionSite.Url;
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();
    private readonly SubscriptionSite _site;

    public SubscriptionTests()
    {
        _testbed.AddHiddenServer();
        _site = new SubscriptionSite(_testbed);
    }

    private string CachePath => Path.Combine(_testbed.WorkDir, "cache", "provider.txt");

    private static string Link(string name, int port) => SubscriptionSite.Link(name, port);

    private void Serve(string body) => _site.Serve(body);

    private System.Diagnostics.Process StartHttps() => _site.Start();

    private string Config() => ProxyPeers.TunConfig(
        """{"type": "urltest", "tag": "auto", "outbounds": [], "interval": "2s"}""", final: "auto").TrimEnd().TrimEnd('}') + $$"""
        , "subscriptions": [{"tag": "provider", "url": "{{Url}}", "interval": "2s", "group": "auto",
                             "cache_path": "{{CachePath}}", "ca_file": "{{_site.Cert}}"}]
        }
        """;

    private ExecResult Curl() => _testbed.RunInClient(Long, "curl", "-sS", "--max-time", "10", ProxyPeers.HiddenUrl());

    [Fact]
    public void ChangedBody_MovesTheGroup_GarbageOrUnreachableKeepsTheOldList()
    {
        var serverA = ProxyPeers.StartShadowsocks(_testbed, "aes-128-gcm", port: 8391);
        ProxyPeers.StartShadowsocks(_testbed, "aes-128-gcm", port: 8392);
        Serve(Link("ss-a", 8391) + "\n");
        var https = StartHttps();
        var engine = _testbed.StartEngine(Config()).WaitStarted();
        Assert.True(engine.WaitFor($"subscription provider: 1 servers from {Url} now feed group auto: ss-a", Wait), engine.Log);
        var first = Curl();
        Assert.True(first.Ok, first + "\n" + engine.Log);

        // 1. A changed body: the group moves to the new server, and traffic follows it (the old one is killed).
        Serve(Link("ss-b", 8392) + "\n");
        Assert.True(engine.WaitFor("now feed group auto: ss-b", Wait), engine.Log);
        Exec.Kill(serverA);
        var moved = Curl();
        Assert.True(moved.Ok, moved + "\n" + engine.Log);
        Assert.Equal(NamespaceTestbed.HiddenV4, moved.Stdout.Trim());
        Assert.True(engine.WaitFor("group auto: now using ss-b", TimeSpan.FromSeconds(5)), engine.Log);
        Assert.Equal(Link("ss-b", 8392) + "\n", File.ReadAllText(CachePath));

        // 2. Garbage: rejected with the reason; the group and the cache keep ss-b.
        Serve("<html><body>502 Bad Gateway</body></html>\n");
        Assert.True(engine.WaitFor("subscription provider: body rejected:", Wait), engine.Log);
        Assert.True(engine.WaitFor("keeping the last good list (1 servers)", TimeSpan.FromSeconds(5)), engine.Log);
        var afterGarbage = Curl();
        Assert.True(afterGarbage.Ok, afterGarbage + "\n" + engine.Log);
        Assert.Equal(Link("ss-b", 8392) + "\n", File.ReadAllText(CachePath));

        // 3. Unreachable: the fetch fails with the reason; the group keeps ss-b.
        Exec.Kill(https);
        Assert.True(engine.WaitFor($"subscription provider: fetch of {Url} failed:", Wait), engine.Log);
        var afterUnreachable = Curl();
        Assert.True(afterUnreachable.Ok, afterUnreachable + "\n" + engine.Log);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(CachePath)!, "*.tmp"));
    }

    [Fact]
    public void Start_WithProviderUnreachable_UsesTheCachedBody()
    {
        ProxyPeers.StartShadowsocks(_testbed, "aes-128-gcm", port: 8392);
        Directory.CreateDirectory(Path.GetDirectoryName(CachePath)!);
        File.WriteAllText(CachePath, Link("ss-b", 8392) + "\n");
        // No HTTPS server: the URL refuses connections.
        var engine = _testbed.StartEngine(Config()).WaitStarted();

        Assert.True(engine.WaitFor($"now feed group auto: ss-b", Wait), engine.Log);
        Assert.True(engine.WaitFor($"from cache {CachePath}", TimeSpan.FromSeconds(5)), engine.Log);
        Assert.True(engine.WaitFor($"subscription provider: fetch of {Url} failed:", Wait), engine.Log);
        var result = Curl();
        Assert.True(result.Ok, result + "\n" + engine.Log);
        Assert.Equal(NamespaceTestbed.HiddenV4, result.Stdout.Trim());
    }

    /// <summary>
    /// A config sent to the root daemon names no file it writes: with cache_path it is refused and nothing
    /// is written there; without, the cache lands in the daemon's state directory by tag, 0600.
    /// </summary>
    [Fact]
    public void ApiConfig_CannotChooseTheCacheFile_TheCacheLivesUnderTheStateDirectory()
    {
        ProxyPeers.StartShadowsocks(_testbed, "aes-128-gcm", port: 8391);
        Serve(Link("ss-a", 8391) + "\n");
        StartHttps();
        var daemon = DaemonUnderTest.Start(_testbed);

        var refused = daemon.Core("up", $$"""{"config": {{Config()}}}""");
        Assert.Equal(2, refused.GetProperty("code").GetInt32());
        Assert.Contains("subscriptions[0].cache_path", refused.GetProperty("message").GetString());
        Thread.Sleep(3000); // two intervals: a daemon that took the config would have written by now
        Assert.False(File.Exists(CachePath), "the daemon wrote the path an API caller named");

        string withoutCache = Config().Replace($"\"cache_path\": \"{CachePath}\",", "", StringComparison.Ordinal);
        var up = daemon.Core("up", $$"""{"config": {{withoutCache}}}""");
        Assert.True(up.GetProperty("code").GetInt32() == 0, up + "\n" + daemon.Process.Log);
        string cache = Path.Combine(daemon.StateDir, "subscriptions", "provider.txt");
        var deadline = DateTime.UtcNow + Wait;
        while (!File.Exists(cache) && DateTime.UtcNow < deadline) Thread.Sleep(200);
        Assert.True(File.Exists(cache), daemon.Process.Log);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(cache));
        daemon.Core("down");
    }

    /// <summary>
    /// A provider that answers only clients it knows (by User-Agent and a token header, as airport panels do): without the
    /// headers the fetch fails with its 403 named; with the subscription's headers the list arrives, its override renames
    /// the server, and traffic goes through it.
    /// </summary>
    [Fact]
    public void ProviderRefusingUnknownClients_IsFetchedWithTheSubscriptionsHeaders_AndItsOverrideRenamesTheServers()
    {
        ProxyPeers.StartShadowsocks(_testbed, "aes-128-gcm", port: 8391);
        Serve(Link("ss-a", 8391) + "\n");
        _site.Requires("User-Agent: clash.meta\nX-Token: t0k3n\n");
        StartHttps();

        var refused = _testbed.StartEngine(Config()).WaitStarted();
        Assert.True(refused.WaitFor($"subscription provider: fetch of {Url} failed: HTTP 403", Wait), refused.Log);
        Assert.Contains("User-Agent: sluice-subscription/1", _site.Seen);
        refused.Signal(Exec.SigTerm);
        Assert.True(refused.WaitForExit(TimeSpan.FromSeconds(15)), refused.Log);

        string withHeaders = Config().Replace("\"interval\": \"2s\", \"group\"",
            "\"headers\": {\"User-Agent\": \"clash.meta\", \"X-Token\": \"t0k3n\"}, \"override\": {\"tag_prefix\": \"[P] \"}, \"interval\": \"2s\", \"group\"",
            StringComparison.Ordinal);
        Assert.NotEqual(Config(), withHeaders);
        var engine = _testbed.StartEngine(withHeaders).WaitStarted();
        Assert.True(engine.WaitFor("now feed group auto: [P] ss-a", Wait), engine.Log);
        var result = Curl();
        Assert.True(result.Ok, result + "\n" + engine.Log);
        Assert.Equal(NamespaceTestbed.HiddenV4, result.Stdout.Trim());
        Assert.DoesNotContain("sluice-subscription", _site.Seen.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)[^1]);
    }

    public void Dispose() => _testbed.Dispose();
}
