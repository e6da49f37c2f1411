using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Sluice.Core.Inbounds.Mixed;

namespace Sluice.Core.Tests.Inbounds;

/// <summary>
/// The HTTP proxy inbound forwarding absolute-form requests (GET http://host/…) as browsers, wget and apt send them:
/// several requests on one proxy connection, to different hosts, pipelined or not, split across writes, with chunked
/// bodies. The origins are Kestrel servers on loopback ports, each answering with its name and what it was sent.
/// </summary>
public sealed class HttpProxyForwardingTests : IDisposable
{
    private readonly Origin _a = Origin.Start("A");
    private readonly Origin _b = Origin.Start("B");

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task KeepAliveRequests_ToTwoOrigins_EachReachItsOwn_InOrder(bool pipelined)
    {
        using var inbound = LoopbackMixedInbound.Start("""{"type": "http", "listen": "127.0.0.1", "listen_port": 1}""");
        string[] requests =
        [
            Get(_a, "/one"),
            $"HEAD {_b.Url("/two")} HTTP/1.1\r\nHost: wrong.example\r\n\r\n",
            Get(_b, "/three?q=1#fragment"),
            Get(_a, "/four", close: true),
        ];

        string replies = await ExchangeAsync(inbound.BoundEndPoint, pipelined ? [string.Concat(requests)] : requests, waitForReplies: !pipelined);

        Assert.Equal(4, Count(replies, "HTTP/1.1 200"));
        Assert.Equal(["A GET /one", "B GET /three?q=1", "A GET /four"], Bodies(replies));
        Assert.Equal(["/one", "/four"], _a.Seen);
        Assert.Equal(["/two", "/three?q=1"], _b.Seen);
    }

    [Fact]
    public async Task ChunkedUpload_SplitAcrossWrites_ArrivesWhole_AndTheNextRequestGoesToItsHost()
    {
        using var inbound = LoopbackMixedInbound.Start("""{"type": "mixed", "listen": "127.0.0.1", "listen_port": 1}""");
        byte[] data = RandomNumberGenerator.GetBytes(70_000);
        string body = Encoding.Latin1.GetString(data);
        string head = $"POST {_a.Url("/upload")} HTTP/1.1\r\nHost: {_a.Authority}\r\nTransfer-Encoding: chunked\r\n\r\n";
        string[] writes =
        [
            head[..9], head[9..30], head[30..],
            $"{30_000:x}\r\n{body[..30_000]}\r", $"\n{40_000:X};ext=1\r\n{body[30_000..]}\r\n0\r\n",
            "\r\n" + Get(_b, "/after", close: true),
        ];

        string replies = await ExchangeAsync(inbound.BoundEndPoint, writes);

        Assert.Equal([$"A POST /upload 70000:{Convert.ToHexStringLower(SHA256.HashData(data))[..16]}", "B GET /after"], Bodies(replies));
    }

    [Fact]
    public async Task ProxyAuthorization_IsChecked_AndNeverSentToAnOrigin()
    {
        using var inbound = LoopbackMixedInbound.Start("""{"type": "http", "listen": "127.0.0.1", "listen_port": 1, "users": [{"username": "u", "password": "p"}]}""");
        string auth = "Proxy-Authorization: Basic " + Convert.ToBase64String(Encoding.ASCII.GetBytes("u:p")) + "\r\n";

        string replies = await ExchangeAsync(inbound.BoundEndPoint,
            [Get(_a, "/one", extra: auth + "Proxy-Connection: keep-alive\r\n"), Get(_a, "/two", extra: auth, close: true)], waitForReplies: true);
        string refused = await ExchangeAsync(inbound.BoundEndPoint, [Get(_a, "/three")]);

        Assert.Equal(["A GET /one", "A GET /two"], Bodies(replies));
        Assert.Equal(0, _a.ProxyFieldsSeen);
        Assert.StartsWith("HTTP/1.1 407", refused);
        Assert.Equal(["/one", "/two"], _a.Seen);
    }

    /// <summary>What a user reads for a target the proxy cannot take: a 400 whose text names the problem.</summary>
    [Theory]
    [InlineData("CONNECT 127.0.0.1:70000 HTTP/1.1\r\nHost: x\r\n\r\n", "port \"70000\"")]
    [InlineData("GET http://127.0.0.1:0/ HTTP/1.1\r\nHost: x\r\n\r\n", "port \"0\"")]
    [InlineData("CONNECT [::1:443 HTTP/1.1\r\n\r\n", "IPv6 literal")]
    [InlineData("GET http://exa mple.com/ HTTP/1.1\r\n\r\n", "not an HTTP/1.x start line")]
    [InlineData("GET http://bad%host/ HTTP/1.1\r\n\r\n", "not a host name or an address")]
    [InlineData("GET https://example.com/ HTTP/1.1\r\n\r\n", "CONNECT")]
    [InlineData("GET /relative HTTP/1.1\r\nHost: x\r\n\r\n", "absolute http:// URL")]
    [InlineData("POST http://127.0.0.1/ HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", "both Transfer-Encoding and Content-Length")]
    public async Task BadRequest_IsAnswered400_NamingTheProblem(string request, string named)
    {
        using var inbound = LoopbackMixedInbound.Start("""{"type": "mixed", "listen": "127.0.0.1", "listen_port": 1}""");

        string reply = await ExchangeAsync(inbound.BoundEndPoint, [request]);

        Assert.StartsWith("HTTP/1.1 400", reply);
        Assert.Contains(named, reply[reply.IndexOf("\r\n\r\n", StringComparison.Ordinal)..], StringComparison.Ordinal);
    }

    /// <summary>An origin that answers something other than HTTP, or breaks off inside its head: the client gets a 502 saying so, not the bytes.</summary>
    [Theory]
    [InlineData("SSH-2.0-OpenSSH_9.2\r\n\r\n", "not HTTP/1.x")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Le", "broke the connection before answering")]
    public async Task BrokenOriginResponse_Gets502_NamingTheProblem(string response, string named)
    {
        using var broken = new TcpListener(IPAddress.Loopback, 0);
        broken.Start();
        _ = Task.Run(async () =>
        {
            using var socket = await broken.AcceptSocketAsync();
            await socket.ReceiveAsync(new byte[4096]);
            await socket.SendAsync(Encoding.ASCII.GetBytes(response));
            await Task.Delay(200);
        });
        using var inbound = LoopbackMixedInbound.Start("""{"type": "mixed", "listen": "127.0.0.1", "listen_port": 1}""");

        string reply = await ExchangeAsync(inbound.BoundEndPoint, [$"GET http://127.0.0.1:{((IPEndPoint)broken.LocalEndpoint).Port}/ HTTP/1.1\r\n\r\n"]);

        Assert.StartsWith("HTTP/1.1 502", reply);
        Assert.Contains(named, reply, StringComparison.Ordinal);
        Assert.DoesNotContain(response, reply, StringComparison.Ordinal); // named in the text at most, not relayed
    }

    [Fact]
    public void BracketedIpv6Authority_IsAnAddress_WithItsPort()
    {
        Assert.Equal("[::1]:8443", HttpTarget.Authority("[::1]:8443", 443).ToString());
        Assert.Equal("[::1]:443", HttpTarget.Authority("[::1]", 443).ToString());
        Assert.Equal(new HttpTarget(HttpTarget.Authority("[::1]:81", 80), "[::1]:81", "/x?y"), HttpTarget.Absolute("HTTP://user:pw@[::1]:81/x?y#z"));
    }

    private static string Get(Origin origin, string path, bool close = false, string extra = "") =>
        $"GET {origin.Url(path)} HTTP/1.1\r\nhost: {origin.Authority}\r\n{extra}{(close ? "Connection: close\r\n" : "")}\r\n";

    private static int Count(string text, string what) => text.Split(what).Length - 1;

    /// <summary>The origins' one-line answers, in the order they came.</summary>
    private static string[] Bodies(string replies) =>
        replies.Split('\n').Where(l => l.Length > 2 && l[1] == ' ' && l[0] is 'A' or 'B').ToArray();

    /// <summary>
    /// Sends each write in turn (after the previous reply when <paramref name="waitForReplies"/>; else 50 ms apart) and
    /// returns everything read until the proxy closes (within 10 s).
    /// </summary>
    private static async Task<string> ExchangeAsync(IPEndPoint proxy, string[] writes, bool waitForReplies = false)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await socket.ConnectAsync(proxy, timeout.Token);
        var text = new StringBuilder();
        var buffer = new byte[65536];
        foreach (var write in writes)
        {
            await socket.SendAsync(Encoding.Latin1.GetBytes(write), SocketFlags.None, timeout.Token);
            int replies = Count(text.ToString(), "HTTP/1.1 ");
            if (!waitForReplies)
            {
                await Task.Delay(50, timeout.Token);
                continue;
            }
            while (Count(text.ToString(), "HTTP/1.1 ") == replies || !text.ToString().EndsWith('\n'))
            {
                int n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
                if (n == 0) return text.ToString();
                text.Append(Encoding.Latin1.GetString(buffer, 0, n));
            }
        }
        try
        {
            int n;
            while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0) text.Append(Encoding.Latin1.GetString(buffer, 0, n));
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            text.Append("\n[").Append(e.GetType().Name).Append(']');
        }
        return text.ToString();
    }

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
    }

    /// <summary>A Kestrel origin answering "NAME METHOD target [length:sha256-prefix]" and recording the targets it was sent.</summary>
    private sealed class Origin : IDisposable
    {
        private readonly WebApplication _app;
        private readonly List<string> _seen = [];
        private int _proxyFields;

        private Origin(string name)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            _app = builder.Build();
            _app.Run(async context =>
            {
                var request = context.Request;
                string target = request.Path + request.QueryString;
                lock (_seen) _seen.Add(target);
                if (request.Headers.Keys.Any(k => k.StartsWith("Proxy-", StringComparison.OrdinalIgnoreCase))) Interlocked.Increment(ref _proxyFields);
                using var body = new MemoryStream();
                await request.Body.CopyToAsync(body);
                byte[] answer = Encoding.ASCII.GetBytes($"{name} {request.Method} {target}"
                    + (body.Length > 0 ? $" {body.Length}:{Convert.ToHexStringLower(SHA256.HashData(body.ToArray()))[..16]}" : "") + "\n");
                context.Response.ContentLength = answer.Length;
                if (!HttpMethods.IsHead(request.Method)) await context.Response.Body.WriteAsync(answer);
            });
            _app.StartAsync().GetAwaiter().GetResult();
            Authority = new Uri(_app.Urls.Single()).Authority;
        }

        public string Authority { get; }

        public string[] Seen
        {
            get
            {
                lock (_seen) return [.. _seen];
            }
        }

        public int ProxyFieldsSeen => Volatile.Read(ref _proxyFields);

        public string Url(string path) => $"http://{Authority}{path}";

        public static Origin Start(string name) => new(name);

        public void Dispose() => _app.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
