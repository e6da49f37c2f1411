using System.IO.Compression;
using System.Text;
using Microsoft.AspNetCore.Http;
using Sluice.Core.Configuration;
using Sluice.Daemon.ExternalUi;

namespace Sluice.Daemon.Tests;

public sealed class ExternalUiTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sluice-ui-").FullName;

    private string Ui => Path.Combine(_root, "ui");

    private string MakeUi()
    {
        Directory.CreateDirectory(Path.Combine(Ui, "assets"));
        File.WriteAllText(Path.Combine(Ui, "index.html"), "<html>yacd</html>");
        File.WriteAllText(Path.Combine(Ui, "assets", "app.js"), "console.log(1)");
        File.WriteAllText(Path.Combine(_root, "secret.txt"), "outside");
        return Ui;
    }

    private static string Read(FileStream? file)
    {
        Assert.NotNull(file);
        using (file) return new StreamReader(file).ReadToEnd();
    }

    [Fact]
    public void Directory_ServesFilesInside_AndIndexForDirectories()
    {
        using var ui = DashboardDirectory.Open(MakeUi());
        Assert.Equal("<html>yacd</html>", Read(ui.OpenFile("", out _)));
        Assert.Equal("console.log(1)", Read(ui.OpenFile("assets/app.js", out _)));
        Assert.Null(ui.OpenFile("assets/", out string? why));
        Assert.Equal("no such file", why);
    }

    [Theory]
    [InlineData("../secret.txt")]
    [InlineData("assets/../../secret.txt")]
    [InlineData("/etc/passwd")]
    [InlineData("assets\\..\\..\\secret.txt")]
    [InlineData("assets//app.js")]
    public void Directory_RefusesPathsThatLeaveIt(string path)
    {
        using var ui = DashboardDirectory.Open(MakeUi());
        Assert.Null(ui.OpenFile(path, out string? why));
        Assert.NotNull(why);
    }

    [Fact]
    public void Directory_RefusesSymlinks_EvenToFilesInside_AndNonRegularFiles()
    {
        MakeUi();
        File.CreateSymbolicLink(Path.Combine(Ui, "out.txt"), Path.Combine(_root, "secret.txt"));
        File.CreateSymbolicLink(Path.Combine(Ui, "in.js"), Path.Combine(Ui, "assets", "app.js"));
        Directory.CreateSymbolicLink(Path.Combine(Ui, "up"), _root);
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", Path.Combine(Ui, "pipe"))!)
        {
            mkfifo.WaitForExit();
            Assert.Equal(0, mkfifo.ExitCode);
        }
        using var ui = DashboardDirectory.Open(Ui);

        Assert.Null(ui.OpenFile("out.txt", out string? why));
        Assert.Equal("links are not served", why);
        Assert.Null(ui.OpenFile("in.js", out _));
        Assert.Null(ui.OpenFile("up/secret.txt", out _));
        // A FIFO would block a plain open forever; it is refused at once.
        Assert.Null(ui.OpenFile("pipe", out why));
        Assert.Equal("not a regular file", why);
    }

    private static MemoryStream Zip(params (string Name, string Body)[] entries) => Zip(entries, symlink: null);

    private static MemoryStream Zip((string Name, string Body)[] entries, string? symlink)
    {
        var stream = new MemoryStream();
        using (var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, body) in entries)
            {
                var entry = zip.CreateEntry(name);
                if (name == symlink) entry.ExternalAttributes = (0xA1FF << 16);
                using var w = entry.Open();
                w.Write(Encoding.UTF8.GetBytes(body));
            }
        }
        stream.Position = 0;
        return stream;
    }

    [Fact]
    public void Archive_Unpacks_DroppingGitHubsTopFolder()
    {
        string target = Path.Combine(_root, "out");
        DashboardArchive.Extract(Zip(("Yacd-gh-pages/", ""), ("Yacd-gh-pages/index.html", "hi"), ("Yacd-gh-pages/assets/a.js", "js")), target);
        Assert.Equal("hi", File.ReadAllText(Path.Combine(target, "index.html")));
        Assert.Equal("js", File.ReadAllText(Path.Combine(target, "assets", "a.js")));
    }

    [Theory]
    [InlineData("../evil.txt")]
    [InlineData("ui/../../evil.txt")]
    [InlineData("/tmp/evil.txt")]
    [InlineData("ui\\..\\..\\evil.txt")]
    [InlineData("C:/evil.txt")]
    public void Archive_ZipSlipEntries_FailTheWholeArchive(string name)
    {
        string target = Path.Combine(_root, "out");
        var e = Assert.Throws<InvalidDataException>(() => DashboardArchive.Extract(Zip(("index.html", "hi"), (name, "x")), target));
        Assert.Contains(name, e.Message);
        Assert.False(File.Exists(Path.Combine(_root, "evil.txt")));
    }

    [Fact]
    public void Archive_SymlinkEntry_IsRefused()
    {
        var e = Assert.Throws<InvalidDataException>(() => DashboardArchive.Extract(Zip([("index.html", "hi"), ("link", "/etc/shadow")], symlink: "link"), Path.Combine(_root, "out")));
        Assert.Contains("symbolic link", e.Message);
    }

    [Fact]
    public void Archive_Bomb_StopsAtTheCap_OnInflatedBytes()
    {
        // 65 MiB of zeros deflates to ~65 KiB: the claimed sizes are small enough to pass a header check.
        var stream = new MemoryStream();
        using (var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true))
        {
            using var w = zip.CreateEntry("index.html", CompressionLevel.SmallestSize).Open();
            var zeros = new byte[1 << 20];
            for (int i = 0; i < 65; i++) w.Write(zeros);
        }
        stream.Position = 0;
        var e = Assert.Throws<InvalidDataException>(() => DashboardArchive.Extract(stream, Path.Combine(_root, "out")));
        Assert.Contains("MiB", e.Message);
    }

    [Fact]
    public void Archive_NotAZip_SaysSo()
    {
        var e = Assert.Throws<InvalidDataException>(() => DashboardArchive.Extract(new MemoryStream(Encoding.ASCII.GetBytes("<html>404</html>")), Path.Combine(_root, "out")));
        Assert.Contains("not a zip", e.Message);
    }

    private static async Task<(int Status, IHeaderDictionary Headers, bool Passed)> Guard(ClashDashboardOptions options, string method, string? origin, string path = "/proxies",
        string? bearer = "right-secret", params (string, string)[] headers)
    {
        var guard = new HttpGuard(ApiSecret.FromValue("right-secret"), ["127.0.0.1:9090"], new CrossOriginPolicy(options));
        var context = new DefaultHttpContext();
        context.Connection.LocalIpAddress = System.Net.IPAddress.Loopback;
        context.Connection.LocalPort = 9090;
        context.Request.Method = method;
        context.Request.Host = new HostString("127.0.0.1:9090");
        context.Request.Path = path;
        context.Response.Body = new MemoryStream();
        if (origin is not null) context.Request.Headers.Origin = origin;
        if (bearer is not null) context.Request.Headers.Authorization = "Bearer " + bearer;
        foreach (var (name, value) in headers) context.Request.Headers[name] = value;
        bool passed = false;
        await guard.InvokeAsync(context, _ =>
        {
            passed = true;
            return Task.CompletedTask;
        });
        return (context.Response.StatusCode, context.Response.Headers, passed);
    }

    private static ClashDashboardOptions Allow(bool privateNetwork = false, params string[] origins) => ClashDashboardOptions.None with { AllowOrigins = origins, AllowPrivateNetwork = privateNetwork };

    [Fact]
    public async Task Guard_OtherOrigin_IsRefused_WithNoAllowList()
    {
        var (status, headers, passed) = await Guard(ClashDashboardOptions.None, "GET", "http://127.0.0.1:8088");
        Assert.Equal(403, status);
        Assert.False(passed);
        Assert.False(headers.ContainsKey("Access-Control-Allow-Origin"));
        (status, _, passed) = await Guard(ClashDashboardOptions.None, "OPTIONS", "http://127.0.0.1:8088", bearer: null, headers: ("Access-Control-Request-Method", "PUT"));
        Assert.Equal(403, status);
        Assert.False(passed);
    }

    [Fact]
    public async Task Guard_AllowedOrigin_GetsPreflight_AndCorsHeaders_ButStillNeedsTheSecret()
    {
        var options = Allow(false, "http://127.0.0.1:8088");
        var (status, headers, passed) = await Guard(options, "OPTIONS", "http://127.0.0.1:8088", bearer: null,
            headers: [("Access-Control-Request-Method", "PUT"), ("Access-Control-Request-Headers", "authorization,content-type"), ("Access-Control-Request-Private-Network", "true")]);
        Assert.Equal(204, status);
        Assert.False(passed);
        Assert.Equal("http://127.0.0.1:8088", headers.AccessControlAllowOrigin);
        Assert.Contains("PUT", headers.AccessControlAllowMethods.ToString());
        Assert.Contains("Authorization", headers.AccessControlAllowHeaders.ToString());
        Assert.False(headers.ContainsKey("Access-Control-Allow-Private-Network"));

        (status, headers, passed) = await Guard(options, "GET", "http://127.0.0.1:8088");
        Assert.True(passed);
        Assert.Equal("http://127.0.0.1:8088", headers.AccessControlAllowOrigin);

        (status, _, passed) = await Guard(options, "GET", "http://127.0.0.1:8088", bearer: "wrong");
        Assert.Equal(401, status);
        Assert.False(passed);

        (status, _, passed) = await Guard(options, "GET", "http://127.0.0.1:8089");
        Assert.Equal(403, status);
    }

    [Fact]
    public async Task Guard_PrivateNetworkPreflight_IsGranted_OnlyWhenConfigured()
    {
        var (_, headers, _) = await Guard(Allow(true, "https://yacd.example.com"), "OPTIONS", "https://yacd.example.com", bearer: null,
            headers: [("Access-Control-Request-Method", "GET"), ("Access-Control-Request-Private-Network", "true")]);
        Assert.Equal("true", headers["Access-Control-Allow-Private-Network"].ToString());
    }

    [Fact]
    public async Task Guard_Star_AllowsAnyOrigin_EchoingIt()
    {
        var (_, headers, passed) = await Guard(Allow(false, "*"), "GET", "http://anything.example");
        Assert.True(passed);
        Assert.Equal("http://anything.example", headers.AccessControlAllowOrigin);
    }

    [Fact]
    public async Task Guard_DashboardFiles_NeedNoSecret_ApiCallsDo()
    {
        Assert.True((await Guard(ClashDashboardOptions.None, "GET", null, "/ui/assets/index.js", bearer: null)).Passed);
        Assert.True((await Guard(ClashDashboardOptions.None, "GET", null, "/dashboard", bearer: null)).Passed);
        Assert.False((await Guard(ClashDashboardOptions.None, "PUT", null, "/ui/x", bearer: null)).Passed);
        Assert.False((await Guard(ClashDashboardOptions.None, "GET", null, "/uix", bearer: null)).Passed);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
