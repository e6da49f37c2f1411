using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Sluice.Core.Configuration;
using Sluice.Core.Dns;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.Direct;

namespace Sluice.Core.Tests.Dns;

public class DnsTransportTests
{
    [Fact]
    public async Task TcpServer_AnswersOverOneReusedConnection()
    {
        await using var up = new DnsResponder();
        await using var server = DnsKit.Server(new DnsOptions { Servers = [DnsKit.Udp("up", up, "tcp")], DisableCache = true });
        for (int i = 0; i < 3; i++) Assert.Equal(["192.0.2.10"], Msg.Addresses(await server.Ask($"t{i}.example")));
        Assert.All(up.Seen, q => Assert.True(q.Tcp));
    }

    [Fact]
    public async Task TruncatedUdpAnswer_IsAskedAgainOverTcp()
    {
        await using var up = new DnsResponder();
        up.Answer = q => q.Tcp
            ? Msg.Response(q.Raw, Msg.A(q.Name, "192.0.2.44", 60))
            : Flag(Msg.Response(q.Raw), 0x02);
        await using var server = DnsKit.Server(new DnsOptions { Servers = [DnsKit.Udp("up", up)] });
        Assert.Equal(["192.0.2.44"], Msg.Addresses(await server.Ask("big.example")));
        Assert.Equal([false, true], up.Seen.Select(q => q.Tcp));

        static byte[] Flag(byte[] m, byte bit)
        {
            m[2] |= bit;
            return m;
        }
    }

    [Fact]
    public async Task DotServer_AnswersOverTls_TrustingTheConfiguredRoot()
    {
        using var cert = SelfSigned();
        string pem = Path.GetTempFileName();
        await File.WriteAllTextAsync(pem, cert.ExportCertificatePem());
        await using var up = new DnsResponder();
        using var listener = Listen(out ushort port);
        _ = AcceptLoop(listener, async stream =>
        {
            await using var tls = new SslStream(stream);
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = cert });
            await up.ServeStream(tls);
        });
        try
        {
            var options = new DnsOptions { Servers = [new RemoteDnsServerOptions("tls", "dot", "127.0.0.1", port, null, null, null, new DnsTlsOptions("dns.test", false, pem))] };
            await using var server = DnsKit.Server(options);
            Assert.Equal(["192.0.2.10"], Msg.Addresses(await server.Ask("secure.example")));

            // Without the root the certificate is not trusted: SERVFAIL, never a plaintext fallback.
            var untrusted = options with { Servers = [new RemoteDnsServerOptions("tls", "dot", "127.0.0.1", port, null, null, null, new DnsTlsOptions("dns.test", false, null))] };
            await using var strict = DnsKit.Server(untrusted);
            Assert.Equal(2, Msg.Rcode(await strict.Ask("secure.example")));
            Assert.Equal(1, up.Count);
        }
        finally
        {
            File.Delete(pem);
        }
    }

    [Fact]
    public async Task DohServer_PostsDnsMessages_ThroughTheDetourOutbound()
    {
        using var cert = SelfSigned();
        await using var up = new DnsResponder();
        var requests = new List<string>();
        using var listener = Listen(out ushort port);
        _ = AcceptLoop(listener, async stream =>
        {
            await using var tls = new SslStream(stream);
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificate = cert,
                ApplicationProtocols = [SslApplicationProtocol.Http11],
            });
            await ServeHttp(tls, up, requests);
        });
        var detour = new CountingOutbound(new DirectOutbound("tunnel", DialOptions.Default, new PlainSockets()));
        await using var server = DnsKit.Server(new DnsOptions
        {
            Servers = [new RemoteDnsServerOptions("https", "doh", "127.0.0.1", port, "/custom-query", "tunnel", null, new DnsTlsOptions("dns.test", Insecure: true, null))],
            DisableCache = true,
        }, detours: tag => tag == "tunnel" ? detour : throw new InvalidOperationException(tag));

        Assert.Equal(["192.0.2.10"], Msg.Addresses(await server.Ask("a.example")));
        Assert.Equal(["192.0.2.10"], Msg.Addresses(await server.Ask("b.example")));

        Assert.Equal(1, detour.TcpDials); // one pooled connection for both queries
        Assert.All(requests, r => Assert.StartsWith("POST /custom-query HTTP/1.1", r));
        Assert.Contains("content-type: application/dns-message", requests[0], StringComparison.OrdinalIgnoreCase);
        Assert.Contains("host: dns.test:" + port, requests[0], StringComparison.OrdinalIgnoreCase);
        Assert.All(up.Seen, q => Assert.Equal(0, Msg.Id(q.Raw))); // RFC 8484: ID 0
    }

    [Fact]
    public async Task LocalServer_AsksTheNameserversOfResolvConf_InOrder()
    {
        await using var up = new DnsResponder();
        string conf = Path.GetTempFileName();
        // 127.0.0.2 has no listener on the port: the first nameserver only costs its share of the timeout.
        await File.WriteAllTextAsync(conf, "# generated\nsearch lan\nnameserver 127.0.0.2\nnameserver 127.0.0.1\noptions edns0\n");
        try
        {
            await using var server = DnsKit.Server(new DnsOptions { Servers = [new LocalDnsServerOptions("local")], Timeout = TimeSpan.FromSeconds(2) },
                resolvConf: conf, nameserverPort: up.Port);
            Assert.Equal(["192.0.2.10"], Msg.Addresses(await server.Ask("lan.example")));
            var addresses = await server.ResolveForEngineAsync("engine.example", CancellationToken.None);
            Assert.Contains(IPAddress.Parse("192.0.2.10"), addresses);
        }
        finally
        {
            File.Delete(conf);
        }
    }

    [Fact]
    public async Task ServerGivenByName_IsResolvedThroughItsDomainResolver()
    {
        await using var bootstrap = new DnsResponder(q => q.Name == "dns.internal" && q.Type == DnsType.A
            ? Msg.Response(q.Raw, Msg.A(q.Name, "127.0.0.1", 300))
            : Msg.Response(q.Raw));
        await using var real = new DnsResponder(q => Msg.Response(q.Raw, Msg.A(q.Name, "192.0.2.99", 300)));
        await using var server = DnsKit.Server(new DnsOptions
        {
            Servers = [DnsKit.Udp("boot", bootstrap), new RemoteDnsServerOptions("udp", "real", "dns.internal", real.Port, null, null, "boot", null)],
            Final = "real",
        });
        Assert.Equal(["192.0.2.99"], Msg.Addresses(await server.Ask("site.example")));
        Assert.Equal(["site.example"], real.Seen.Select(q => q.Name));
        Assert.Contains("dns.internal", bootstrap.Seen.Select(q => q.Name));
    }

    [Fact]
    public async Task EngineLookups_UseTheDefaultDomainResolver_AndOrderByStrategy()
    {
        await using var boot = new DnsResponder(q => Msg.Response(q.Raw, q.Type == DnsType.A ? Msg.A(q.Name, "192.0.2.1", 60) : Msg.A(q.Name, "2001:db8::1", 60)));
        await using var other = new DnsResponder();
        await using var server = DnsKit.Server(new DnsOptions
        {
            Servers = [DnsKit.Udp("other", other), DnsKit.Udp("boot", boot)],
            DefaultDomainResolver = "boot",
            Strategy = DnsStrategy.PreferIpv6,
        });
        var addresses = await server.ResolveForEngineAsync("peer.example", CancellationToken.None);
        Assert.Equal([IPAddress.Parse("2001:db8::1"), IPAddress.Parse("192.0.2.1")], addresses);
        Assert.Equal(0, other.Count);
        Assert.Equal([IPAddress.Parse("10.1.2.3")], await server.ResolveForEngineAsync("10.1.2.3", CancellationToken.None));

        boot.Answer = q => Msg.Response(q.Raw, 3, [], []);
        var error = await Assert.ThrowsAsync<DnsLookupException>(async () => await server.ResolveForEngineAsync("gone.example", CancellationToken.None));
        Assert.Contains("gone.example", error.Message);
        Assert.Contains("NXDOMAIN", error.Message);
    }

    internal static X509Certificate2 SelfSigned()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=dns.test", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("dns.test");
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pfx), null);
    }

    internal static Socket Listen(out ushort port)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(16);
        port = (ushort)((IPEndPoint)listener.LocalEndPoint!).Port;
        return listener;
    }

    internal static async Task AcceptLoop(Socket listener, Func<Stream, Task> serve)
    {
        while (true)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync();
            }
            catch (Exception)
            {
                return;
            }
            _ = Task.Run(async () =>
            {
                try
                {
                    await using var stream = new NetworkStream(client, ownsSocket: true);
                    await serve(stream);
                }
                catch (Exception)
                {
                    // a client that failed the handshake, or went away
                }
            });
        }
    }

    /// <summary>Just enough HTTP/1.1 for DoH POSTs: headers, Content-Length body, keep-alive.</summary>
    private static async Task ServeHttp(Stream stream, DnsResponder dns, List<string> requests)
    {
        var buffer = new List<byte>();
        var chunk = new byte[4096];
        while (true)
        {
            int headerEnd;
            while ((headerEnd = IndexOf(buffer, "\r\n\r\n"u8.ToArray())) < 0)
            {
                int n = await stream.ReadAsync(chunk);
                if (n == 0) return;
                buffer.AddRange(chunk.AsSpan(0, n));
            }
            string head = Encoding.ASCII.GetString(buffer.GetRange(0, headerEnd).ToArray());
            lock (requests) requests.Add(head);
            int length = int.Parse(head.Split("\r\n").First(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)).Split(':')[1].Trim());
            buffer.RemoveRange(0, headerEnd + 4);
            while (buffer.Count < length)
            {
                int n = await stream.ReadAsync(chunk);
                if (n == 0) return;
                buffer.AddRange(chunk.AsSpan(0, n));
            }
            var body = buffer.GetRange(0, length).ToArray();
            buffer.RemoveRange(0, length);
            var answer = await dns.Respond(body, tcp: true) ?? [];
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: application/dns-message\r\nContent-Length: {answer.Length}\r\n\r\n"));
            await stream.WriteAsync(answer);
        }
    }

    private static int IndexOf(List<byte> haystack, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= haystack.Count; i++)
        {
            bool match = true;
            for (int j = 0; j < needle.Length && match; j++) match = haystack[i + j] == needle[j];
            if (match) return i;
        }
        return -1;
    }
}

/// <summary>An outbound that counts how often it is dialled, to prove a server's detour is used.</summary>
internal sealed class CountingOutbound(IOutbound inner) : IOutbound
{
    public int TcpDials;
    public int UdpOpens;

    public string Tag => inner.Tag;

    public string Type => inner.Type;

    public ValueTask<Stream> DialTcpAsync(Destination destination, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref TcpDials);
        return inner.DialTcpAsync(destination, cancellationToken);
    }

    public ValueTask<IUdpChannel> OpenUdpAsync(Destination destination, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref UdpOpens);
        return inner.OpenUdpAsync(destination, cancellationToken);
    }

    public void Dispose() => inner.Dispose();
}
