using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Core.Configuration;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.Http;
using Sluice.Core.Outbounds.Shadowsocks;
using Sluice.Core.Outbounds.Socks;
using Sluice.Packets;

namespace Sluice.Core.Tests.Outbounds;

public class DetourDialTests
{
    /// <summary>A detour that records what it was asked to dial and hands out a given stream.</summary>
    private sealed class RecordingDetour(string type, Func<Stream> stream) : IOutbound
    {
        public List<Destination> Dialed { get; } = [];

        public string Tag => "hop";

        public string Type => type;

        public ValueTask<Stream> DialTcpAsync(Destination destination, CancellationToken cancellationToken)
        {
            Dialed.Add(destination);
            return ValueTask.FromResult(stream());
        }

        public ValueTask<IUdpChannel> OpenUdpAsync(Destination destination, CancellationToken cancellationToken) =>
            throw new OutboundException("no UDP here");

        public void Dispose()
        {
        }
    }

    private sealed class CountingResolver(IPAddress answer, TimeSpan ttl, bool hasDefault = false) : IServerNameResolver
    {
        public int Lookups;

        public bool Covers(string? resolverTag) => resolverTag is not null || hasDefault;

        public ValueTask<ResolvedHost> ResolveAsync(string? resolverTag, string host, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Lookups);
            return ValueTask.FromResult(new ResolvedHost([answer], ttl));
        }
    }

    /// <summary>A name with an IPv4 and an IPv6 address (in that order), and a route.default_domain_resolver strategy.</summary>
    private sealed class TwoFamilies(Sluice.Core.Dns.DnsStrategy? defaultStrategy = null, bool v6 = true) : IServerNameResolver
    {
        public bool Covers(string? resolverTag) => true;

        public Sluice.Core.Dns.DnsStrategy? DefaultStrategy => defaultStrategy;

        public ValueTask<ResolvedHost> ResolveAsync(string? resolverTag, string host, CancellationToken cancellationToken) =>
            ValueTask.FromResult(new ResolvedHost(v6 ? [IPAddress.Parse("192.0.2.7"), IPAddress.Parse("2001:db8::7")] : [IPAddress.Parse("192.0.2.7")], TimeSpan.FromMinutes(5)));
    }

    private static ProxyServer Server(string host, RecordingDetour? detour, IServerNameResolver? names = null, string? resolver = null,
        Sluice.Core.Dns.DnsStrategy? strategy = null) =>
        new("socks", "p", new ProxyServerOptions(host, 1080, DialOptions.Default) { Detour = detour is null ? null : "hop", DomainResolver = resolver, DomainStrategy = strategy },
            new OutboundContext(new PlainSockets(refusal: "dialed around the detour"), Resolve: tag => tag == "hop" ? detour : null, Names: names));

    [Theory]
    [InlineData(null, null, "192.0.2.7")]
    [InlineData(Sluice.Core.Dns.DnsStrategy.PreferIpv4, null, "192.0.2.7")]
    [InlineData(Sluice.Core.Dns.DnsStrategy.PreferIpv6, null, "2001:db8::7")]
    [InlineData(Sluice.Core.Dns.DnsStrategy.Ipv6Only, null, "2001:db8::7")]
    [InlineData(null, Sluice.Core.Dns.DnsStrategy.Ipv6Only, "2001:db8::7")] // the default resolver's strategy
    [InlineData(Sluice.Core.Dns.DnsStrategy.Ipv4Only, Sluice.Core.Dns.DnsStrategy.Ipv6Only, "192.0.2.7")] // the outbound's own wins
    public async Task DomainResolverStrategy_PicksTheAddressFamilyDialed(Sluice.Core.Dns.DnsStrategy? own, Sluice.Core.Dns.DnsStrategy? byDefault, string dialed)
    {
        var detour = new RecordingDetour("socks", () => new MemoryStream());

        await Server("proxy.example", detour, new TwoFamilies(byDefault), strategy: own).ConnectTcpAsync(CancellationToken.None);

        Assert.Equal(NetAddress.Parse(dialed), Assert.Single(detour.Dialed).Address);
    }

    [Fact]
    public async Task Ipv6Only_ForANameWithoutIpv6_FailsSayingSo()
    {
        var detour = new RecordingDetour("socks", () => new MemoryStream());
        var server = Server("proxy.example", detour, new TwoFamilies(v6: false), strategy: Sluice.Core.Dns.DnsStrategy.Ipv6Only);

        var e = await Assert.ThrowsAsync<OutboundException>(async () => await server.ConnectTcpAsync(CancellationToken.None));

        Assert.Equal("socks \"p\" (proxy.example:1080 via \"hop\"): server name proxy.example has no IPv6 address (strategy ipv6_only)", e.Message);
        Assert.Empty(detour.Dialed);
    }

    [Fact]
    public async Task Detour_DialsTheServer_ByTheAddressTheDomainResolverGave_OncePerTtl()
    {
        var detour = new RecordingDetour("socks", () => new MemoryStream());
        var names = new CountingResolver(IPAddress.Parse("192.0.2.7"), TimeSpan.FromMinutes(5));
        var server = Server("proxy.example", detour, names, resolver: "dns-a");

        await server.ConnectTcpAsync(CancellationToken.None);
        await server.ConnectTcpAsync(CancellationToken.None);

        Assert.Equal(2, detour.Dialed.Count);
        Assert.All(detour.Dialed, d => Assert.Equal(new Destination(NetAddress.Parse("192.0.2.7"), 1080), d));
        Assert.Equal(1, names.Lookups);
    }

    [Fact]
    public async Task Detour_ThatTakesNames_GetsTheServerName_WhenNoResolverIsConfigured()
    {
        var detour = new RecordingDetour("shadowsocks", () => new MemoryStream());
        var names = new CountingResolver(IPAddress.Parse("192.0.2.7"), TimeSpan.FromMinutes(5), hasDefault: false);

        await Server("hidden.example", detour, names).ConnectTcpAsync(CancellationToken.None);

        Assert.Equal("hidden.example", Assert.Single(detour.Dialed).Domain);
        Assert.Equal(0, names.Lookups);
    }

    [Fact]
    public async Task DefaultDomainResolver_Applies_WhenTheOutboundNamesNone()
    {
        var detour = new RecordingDetour("socks", () => new MemoryStream());
        var names = new CountingResolver(IPAddress.Parse("198.51.100.1"), TimeSpan.FromMinutes(5), hasDefault: true);

        await Server("proxy.example", detour, names).ConnectTcpAsync(CancellationToken.None);

        Assert.Equal(NetAddress.Parse("198.51.100.1"), Assert.Single(detour.Dialed).Address);
    }

    [Fact]
    public async Task MissingDetour_FailsNamingIt()
    {
        var server = new ProxyServer("socks", "p", new ProxyServerOptions("192.0.2.1", 1080, DialOptions.Default) { Detour = "gone" },
            new OutboundContext(new PlainSockets(refusal: "dialed around the detour"), Resolve: _ => null));
        var e = await Assert.ThrowsAsync<OutboundException>(async () => await server.ConnectTcpAsync(CancellationToken.None));
        Assert.Contains("detour outbound \"gone\" does not exist", e.Message);
    }

    [Fact]
    public async Task HttpConnect_ThroughADetour_HandsOutTheBytesThatCameWithTheAnswerFirst()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        using var proxySide = await listener.AcceptTcpClientAsync();
        var detour = new RecordingDetour("socks", () => client.GetStream());
        var http = new HttpOutbound(new HttpOutboundOptions("h", new ProxyServerOptions("192.0.2.1", 3128, DialOptions.Default) { Detour = "hop" }, null, null),
            new OutboundContext(new PlainSockets(refusal: "dialed around the detour"), Resolve: tag => tag == "hop" ? detour : null), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);

        var proxy = Task.Run(async () =>
        {
            var stream = proxySide.GetStream();
            var buffer = new byte[1024];
            int n = 0;
            while (!Encoding.ASCII.GetString(buffer, 0, n).Contains("\r\n\r\n")) n += await stream.ReadAsync(buffer.AsMemory(n));
            // The head and the target's greeting in one write: the client must not lose the greeting.
            await stream.WriteAsync("HTTP/1.1 200 Connection established\r\n\r\nSSH-2.0-test\r\n"u8.ToArray());
            return Encoding.ASCII.GetString(buffer, 0, n);
        });
        await using var tunnel = await http.DialTcpAsync(new Destination(NetAddress.Parse("203.0.113.5"), 22), CancellationToken.None);

        Assert.StartsWith("CONNECT 203.0.113.5:22 HTTP/1.1\r\n", await proxy);
        var greeting = new byte[64];
        int read = await tunnel.ReadAsync(greeting);
        Assert.Equal("SSH-2.0-test\r\n", Encoding.ASCII.GetString(greeting, 0, read));
    }

    /// <summary>Records writes and the endings passed down to it.</summary>
    private sealed class RecordingConnection : MemoryStream, IConnectionStream
    {
        public List<string> Events { get; } = [];

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            Events.Add($"write {buffer.Length}");
            base.Write(buffer);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public void ShutdownWrite() => Events.Add("shutdown");

        public void Abort() => Events.Add("abort");
    }

    [Fact]
    public async Task ShadowsocksStream_ReadBeforeAnyWrite_SendsTheStagedHeaderAlone_SoAServerThatSpeaksFirstIsDialed()
    {
        var (stream, transport) = StagedStream();
        using var owned = stream;

        // Nothing comes back here (the recording transport is at its end), but the header went out first.
        await Assert.ThrowsAsync<IOException>(async () => _ = await stream.ReadAsync(new byte[16]));

        Assert.Equal(["write 57"], transport.Events);
    }

    [Fact]
    public async Task ShadowsocksStream_FirstWrite_CarriesTheStagedHeaderAndTheDataInOneSend()
    {
        var (stream, transport) = StagedStream();
        using var owned = stream;

        await stream.WriteAsync(new byte[5]);
        await stream.WriteAsync(new byte[5]);

        // 57 (salt and header) + 2+16 + 5+16 in the first send; the second is a chunk alone.
        Assert.Equal(["write 96", "write 39"], transport.Events);
    }

    /// <summary>A Shadowsocks stream over a recording connection, its target header (203.0.113.5:25) staged and not yet sent.</summary>
    private static (ShadowsocksStream Stream, RecordingConnection Transport) StagedStream()
    {
        var method = ShadowsocksMethod.Find("aes-128-gcm")!;
        var transport = new RecordingConnection();
        var target = new Destination(NetAddress.Parse("203.0.113.5"), 25);
        var stream = new ShadowsocksStream(transport, method, method.MasterKey("p"), NullLogger.Instance, "ss", target, TimeSpan.Zero);
        var header = new byte[SocksAddress.MaxLength];
        stream.StageHeader(header.AsSpan(0, SocksAddress.Write(header, target)));
        return (stream, transport);
    }

    [Fact]
    public void ShadowsocksStream_HalfClosedBeforeAnyData_SendsTheStagedHeaderThenPassesTheFinDown()
    {
        var (stream, transport) = StagedStream();
        using var owned = stream;

        stream.ShutdownWrite();

        // salt 16, sealed length 2+16, sealed header (1+4+2)+16
        Assert.Equal(["write 57", "shutdown"], transport.Events);
    }

    [Fact]
    public void StreamEnds_Abort_ReachesTheConnectionUnderAShadowsocksStream()
    {
        var method = ShadowsocksMethod.Find("aes-128-gcm")!;
        var transport = new RecordingConnection();
        var stream = new ShadowsocksStream(transport, method, method.MasterKey("p"), NullLogger.Instance, "ss", default, TimeSpan.Zero);

        StreamEnds.Abort(stream);

        Assert.Equal(["abort"], transport.Events);
        Assert.False(stream.CanRead);
    }
}
