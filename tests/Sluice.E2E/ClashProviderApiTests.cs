using System.Text.Json;
using Sluice.Testbed;

namespace Sluice.E2E;

/// <summary>
/// The Clash API calls the dashboards make about providers and automatic groups, against the daemon with a real
/// subscription (HTTPS in the router namespace, as SubscriptionTests) and real ss-servers: a subscription is a proxy
/// provider, its servers are proxies that can be tested, a urltest group can be pinned and unpinned, and paths Sluice
/// does not serve answer with a message.
/// </summary>
public sealed class ClashProviderApiTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private readonly NamespaceTestbed _testbed = NamespaceTestbed.Create();
    private readonly SubscriptionSite _site;

    public ClashProviderApiTests()
    {
        _testbed.AddHiddenServer();
        _site = new SubscriptionSite(_testbed);
    }

    private static string Link(string name, int port) => SubscriptionSite.Link(name, port);

    /// <summary>A urltest group fed only by the subscription, fetched every hour: any other fetch is one the API asked for.</summary>
    private string Config() => ProxyPeers.TunConfig(
        """{"type": "urltest", "tag": "auto", "outbounds": [], "interval": "2s"}""", final: "auto").TrimEnd().TrimEnd('}') + $$"""
        , "subscriptions": [{"tag": "provider", "url": "{{SubscriptionSite.Url}}", "interval": "1h", "group": "auto", "ca_file": "{{_site.Cert}}"}]
        }
        """;

    private static (string Body, int Status) Call(DaemonUnderTest daemon, string method, string path, string? body = null)
    {
        string[] args = body is null ? ["-X", method] : ["-X", method, "-H", "Content-Type: application/json", "-d", body];
        var result = daemon.Unix([.. args, "-w", "\n%{http_code}", "http://localhost" + path]);
        int split = result.Stdout.LastIndexOf('\n');
        return (result.Stdout[..split], int.Parse(result.Stdout[(split + 1)..].Trim()));
    }

    private static string[] ServersOf(JsonElement provider) =>
        provider.GetProperty("proxies").EnumerateArray().Select(p => p.GetProperty("name").GetString()!).ToArray();

    private static bool WaitFor(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (DateTime.UtcNow < deadline)
        {
            if (condition()) return true;
            Thread.Sleep(200);
        }
        return condition();
    }

    [Fact]
    public void Subscription_IsAProxyProvider_ItsServersAreTestableProxies_UpdateFetchesNow_AFailedUpdateSaysWhy()
    {
        ProxyPeers.StartShadowsocks(_testbed, "aes-128-gcm", port: 8391);
        ProxyPeers.StartShadowsocks(_testbed, "aes-128-gcm", port: 8392);
        _site.Serve(Link("ss-a", 8391) + "\n");
        var https = _site.Start();
        var daemon = DaemonUnderTest.Start(_testbed);
        var up = daemon.Core("up", $$"""{"config": {{Config()}}}""");
        Assert.True(up.GetProperty("code").GetInt32() == 0, up + "\n" + daemon.Process.Log);

        // 1. The provider list: the subscription with its servers in /proxies' shape, and when it was fetched.
        Assert.True(WaitFor(() => daemon.Get("/providers/proxies").GetProperty("providers").TryGetProperty("provider", out var p) && ServersOf(p).SequenceEqual(["ss-a"])),
            daemon.Get("/providers/proxies") + "\n" + daemon.Process.Log);
        var provider = daemon.Get("/providers/proxies/provider");
        Assert.Equal("HTTP", provider.GetProperty("vehicleType").GetString());
        Assert.Equal("Shadowsocks", provider.GetProperty("proxies")[0].GetProperty("type").GetString());
        Assert.InRange(DateTimeOffset.Parse(provider.GetProperty("updatedAt").GetString()!), DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddMinutes(1));
        Assert.False(provider.TryGetProperty("subscriptionInfo", out _)); // the provider sent no subscription-userinfo yet

        // 2. Its servers are proxies like the others: listed, and delay-tested through themselves (by name and by provider).
        var proxies = daemon.Get("/proxies").GetProperty("proxies");
        Assert.Equal("Shadowsocks", proxies.GetProperty("ss-a").GetProperty("type").GetString());
        string target = Uri.EscapeDataString(ProxyPeers.HiddenUrl());
        var (delayBody, delayStatus) = Call(daemon, "GET", $"/proxies/ss-a/delay?url={target}&timeout=5000");
        Assert.True(delayStatus == 200, delayBody + "\n" + daemon.Process.Log);
        Assert.True(JsonDocument.Parse(delayBody).RootElement.GetProperty("delay").GetInt32() > 0);
        var (viaProvider, viaProviderStatus) = Call(daemon, "GET", $"/providers/proxies/provider/ss-a/healthcheck?url={target}&timeout=5000");
        Assert.True(viaProviderStatus == 200, viaProvider);
        Assert.True(JsonDocument.Parse(viaProvider).RootElement.GetProperty("delay").GetInt32() > 0);
        var (groupDelay, _) = Call(daemon, "GET", $"/group/auto/delay?url={target}&timeout=5000");
        Assert.True(JsonDocument.Parse(groupDelay).RootElement.TryGetProperty("ss-a", out _), groupDelay);
        Assert.Equal(204, Call(daemon, "GET", "/providers/proxies/provider/healthcheck").Status);

        // 3. "Update": fetched now (the interval is an hour), the group has the new list when the answer comes.
        _site.Serve(Link("ss-a", 8391) + "\n" + Link("ss-b", 8392) + "\n");
        _site.Headers("subscription-userinfo: upload=1000; download=2000; total=107374182400; expire=1767225600\n");
        var (_, updated) = Call(daemon, "PUT", "/providers/proxies/provider");
        Assert.Equal(204, updated);
        var afterUpdate = daemon.Get("/providers/proxies/provider");
        Assert.Equal(["ss-a", "ss-b"], ServersOf(afterUpdate));
        // The provider's account usage, as the dashboards' usage bar reads it.
        var info = afterUpdate.GetProperty("subscriptionInfo");
        Assert.Equal([1000L, 2000L, 107374182400L, 1767225600L], new[] { "Upload", "Download", "Total", "Expire" }.Select(k => info.GetProperty(k).GetInt64()).ToArray());
        Assert.Equal(["ss-a", "ss-b"], daemon.Get("/proxies/auto").GetProperty("all").EnumerateArray().Select(e => e.GetString()!).ToArray());

        // 4. A failed update says why and keeps the list; unknown providers and servers are 404 with a message.
        Exec.Kill(https);
        var (failedBody, failed) = Call(daemon, "PUT", "/providers/proxies/provider");
        Assert.Equal(502, failed);
        Assert.Contains("fetch of", JsonDocument.Parse(failedBody).RootElement.GetProperty("message").GetString());
        Assert.Equal(["ss-a", "ss-b"], ServersOf(daemon.Get("/providers/proxies/provider")));
        var (missingBody, missing) = Call(daemon, "PUT", "/providers/proxies/nope");
        Assert.Equal(404, missing);
        Assert.Contains("nope", JsonDocument.Parse(missingBody).RootElement.GetProperty("message").GetString());
        Assert.Equal(404, Call(daemon, "GET", "/providers/proxies/provider/ss-z/healthcheck").Status);
        daemon.Core("down");
    }

    [Fact]
    public void UrlTestGroup_PinnedByPut_UnpinnedByDelete_AndPathsSluiceLacksAnswerWhy()
    {
        ProxyPeers.StartShadowsocks(_testbed, "aes-128-gcm", port: 8391);
        ProxyPeers.StartShadowsocks(_testbed, "aes-128-gcm", port: 8392);
        string config = ProxyPeers.TunConfig(
            ProxyPeers.Shadowsocks("ss-a", "aes-128-gcm", port: 8391) + ", " + ProxyPeers.Shadowsocks("ss-b", "aes-128-gcm", port: 8392) + ", "
            + """{"type": "urltest", "tag": "auto", "outbounds": ["ss-a", "ss-b"], "interval": "1s", "tolerance": 0}""", final: "auto");
        var daemon = DaemonUnderTest.Start(_testbed);
        var up = daemon.Core("up", $$"""{"config": {{config}}}""");
        Assert.True(up.GetProperty("code").GetInt32() == 0, up + "\n" + daemon.Process.Log);
        var first = _testbed.RunInClient(TimeSpan.FromSeconds(30), "curl", "-sS", "--max-time", "10", ProxyPeers.HiddenUrl());
        Assert.True(first.Ok, first + "\n" + daemon.Process.Log);
        string chosen = daemon.Get("/proxies/auto").GetProperty("now").GetString()!;
        string other = chosen == "ss-a" ? "ss-b" : "ss-a";
        Assert.Equal("", daemon.Get("/proxies/auto").GetProperty("fixed").GetString());

        // Pinned: the member the dashboard clicked carries new flows, and shows as "fixed".
        Assert.Equal(204, Call(daemon, "PUT", "/proxies/auto", $$"""{"name": "{{other}}"}""").Status);
        var pinned = daemon.Get("/proxies/auto");
        Assert.Equal(other, pinned.GetProperty("now").GetString());
        Assert.Equal(other, pinned.GetProperty("fixed").GetString());
        var through = _testbed.RunInClient(TimeSpan.FromSeconds(30), "curl", "-sS", "--max-time", "10", ProxyPeers.HiddenUrl());
        Assert.True(through.Ok, through + "\n" + daemon.Process.Log);
        Thread.Sleep(4000); // probe rounds later the pin holds (tolerance 0: unpinned, the group follows whichever member answers faster)
        Assert.Equal(other, daemon.Get("/proxies/auto").GetProperty("now").GetString());
        Assert.Equal(400, Call(daemon, "PUT", "/proxies/auto", """{"name": "ss-z"}""").Status);

        // Unpinned: the group picks by its probes again; a member or a selector has nothing to unpin (400, as mihomo).
        Assert.Equal(204, Call(daemon, "DELETE", "/proxies/auto").Status);
        Assert.Equal("", daemon.Get("/proxies/auto").GetProperty("fixed").GetString());
        Assert.Equal(400, Call(daemon, "DELETE", "/proxies/ss-a").Status);
        Assert.Equal(404, Call(daemon, "DELETE", "/proxies/nope").Status);

        // What Sluice does not have is a 404 with the reason, never an empty answer.
        foreach (var (method, path, words) in new[] { ("POST", "/upgrade", "package"), ("POST", "/upgrade/geo", "GeoIP"), ("POST", "/configs/geo", "GeoIP"), ("GET", "/storage/zashboard", "/storage/zashboard") })
        {
            var (body, status) = Call(daemon, method, path);
            Assert.True(status == 404, $"{method} {path}: {status} {body}");
            Assert.Contains(words, JsonDocument.Parse(body).RootElement.GetProperty("message").GetString());
        }
        var (uiBody, uiStatus) = Call(daemon, "POST", "/upgrade/ui");
        Assert.Equal(500, uiStatus);
        Assert.Contains("external_ui_download_url", JsonDocument.Parse(uiBody).RootElement.GetProperty("message").GetString());
        daemon.Core("down");
    }

    public void Dispose() => _testbed.Dispose();
}
