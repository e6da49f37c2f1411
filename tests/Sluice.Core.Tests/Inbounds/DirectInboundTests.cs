using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Core.Configuration;
using Sluice.Core.Dns;
using Sluice.Core.Flows;
using Sluice.Core.Inbounds.Direct;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.Direct;
using Sluice.Core.Routing;
using Sluice.Core.Stack;
using Sluice.Core.Tests.Dns;
using Sluice.Packets;

namespace Sluice.Core.Tests.Inbounds;

/// <summary>The loopback DNS listener as a client sees it: real sockets, a real server, a loopback upstream.</summary>
public sealed class DirectInboundTests : IAsyncDisposable
{
    private const string HijackAll = """[{"inbound": "dns-in", "action": "hijack-dns"}]""";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private readonly DnsResponder _upstream = new();
    private readonly ConcurrentQueue<FlowKey> _lookups = new();
    private DnsServer? _server;
    private DirectInbound? _inbound;
    private ushort _port;

    /// <summary>Starts a listener with these route and DNS rules; the client's process is "fake-app" (uid 1000).</summary>
    private void Start(string routeRules = HijackAll, string dnsRules = "[]", string network = "", TimeSpan? tcpIdle = null)
    {
        for (int attempt = 0; ; attempt++)
        {
            _port = (ushort)Random.Shared.Next(20000, 60000);
            var config = ConfigLoader.Load($$$"""
                {"inbounds": [{"type": "direct", "tag": "dns-in", "listen": "127.0.0.1", "listen_port": {{{_port}}} {{{network}}}}],
                 "dns": {"servers": [{"type": "udp", "tag": "up", "server": "127.0.0.1", "server_port": {{{_upstream.Port}}}}],
                         "rules": {{{dnsRules}}}, "final": "up"},
                 "route": {"rules": {{{routeRules}}}}}
                """);
            _server ??= DnsKit.Server(config.Dns);
            var direct = new DirectOutbound("direct", DialOptions.Default, new PlainSockets());
            var router = Router.Compile(config.Route, ["direct"], "direct");
            var lanes = new LaneSelector(router, new Dictionary<string, IOutbound> { ["direct"] = direct }, "direct", dnsServerRunning: true, NullLogger.Instance);
            try
            {
                _inbound = new DirectInbound(config.DirectInbounds[0], _server, lanes, Lookup, NullLogger.Instance, tcpIdle);
                _inbound.Start();
                return;
            }
            catch (InvalidOperationException) when (attempt < 20)
            {
                // the random port was taken
            }
        }
    }

    private ProcessInfo? Lookup(FlowKey key)
    {
        _lookups.Enqueue(key);
        return new ProcessInfo(1000, 42, "fake-app", "/usr/bin/fake-app");
    }

    private Socket UdpClient()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = (int)Wait.TotalMilliseconds };
        socket.Connect(IPAddress.Loopback, _port);
        return socket;
    }

    private static byte[] Exchange(Socket udp, byte[] query)
    {
        udp.Send(query);
        var buffer = new byte[4096];
        int n = udp.Receive(buffer);
        return buffer[..n];
    }

    private byte[] AskUdp(string name, ushort id = 0x1234)
    {
        using var udp = UdpClient();
        return Exchange(udp, Msg.Query(name, id: id));
    }

    private async Task<Socket> TcpClientAsync()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, _port);
        return socket;
    }

    private static byte[] Framed(params byte[][] messages)
    {
        var framed = new List<byte>();
        foreach (var m in messages)
        {
            framed.Add((byte)(m.Length >> 8));
            framed.Add((byte)m.Length);
            framed.AddRange(m);
        }
        return framed.ToArray();
    }

    /// <summary>The next length-prefixed message, or null when the server closed the connection (a timeout throws).</summary>
    private static async Task<byte[]?> ReadMessageAsync(Socket tcp)
    {
        using var timeout = new CancellationTokenSource(Wait);
        var stream = new NetworkStream(tcp, ownsSocket: false);
        var length = new byte[2];
        try
        {
            await stream.ReadExactlyAsync(length, timeout.Token);
        }
        catch (Exception e) when (e is EndOfStreamException or IOException)
        {
            return null; // closed (a reset when the server closed with the query unread)
        }
        var message = new byte[BinaryPrimitives.ReadUInt16BigEndian(length)];
        await stream.ReadExactlyAsync(message, timeout.Token);
        return message;
    }

    [Fact]
    public void UdpQuery_IsAnsweredFromTheUpstream_ThenFromTheCache()
    {
        Start();

        var first = AskUdp("a.example", id: 0x1111);
        var second = AskUdp("a.example", id: 0x2222);

        Assert.Equal(["192.0.2.10"], Msg.Addresses(first));
        Assert.Equal(["192.0.2.10"], Msg.Addresses(second));
        Assert.Equal(0x1111, Msg.Id(first));
        Assert.Equal(0x2222, Msg.Id(second));
        Assert.Equal(1, _upstream.Count); // the second answer came from the cache
    }

    [Fact]
    public void OneUdpClient_ManyQueries_AllAnswered_UpstreamAskedOncePerName()
    {
        Start();
        using var udp = UdpClient();

        for (int i = 0; i < 200; i++)
        {
            var answer = Exchange(udp, Msg.Query($"n{i % 10}.example", id: (ushort)i));
            Assert.Equal(i, Msg.Id(answer));
            Assert.Equal(["192.0.2.10"], Msg.Addresses(answer));
        }
        Assert.Equal(10, _upstream.Count);
    }

    [Fact]
    public void DnsRules_SeeTheListenersInbound_AndTheClientsProcess()
    {
        Start(dnsRules: """
            [{"process_name": "fake-app", "domain": "process.example", "action": "predefined", "answer": ["process.example. IN A 192.0.2.77"]},
             {"inbound": "dns-in", "domain": "inbound.example", "action": "predefined", "answer": ["inbound.example. IN A 192.0.2.88"]}]
            """);
        using var udp = UdpClient();
        var client = (IPEndPoint)udp.LocalEndPoint!;

        var byProcess = Exchange(udp, Msg.Query("process.example"));
        var byInbound = Exchange(udp, Msg.Query("inbound.example"));

        Assert.Equal(["192.0.2.77"], Msg.Addresses(byProcess));
        Assert.Equal(["192.0.2.88"], Msg.Addresses(byInbound));
        Assert.Equal(0, _upstream.Count);
        // The process was looked up for the client's own socket: from its port to the listener (once per
        // receive thread that saw the client).
        var expected = new FlowKey(IpProtocol.Udp, NetAddress.Parse("127.0.0.1"), (ushort)client.Port, NetAddress.Parse("127.0.0.1"), _port);
        Assert.NotEmpty(_lookups);
        Assert.All(_lookups, key => Assert.Equal(expected, key));
    }

    [Fact]
    public void ProcessLookup_HappensOnlyWhenARuleNeedsIt()
    {
        Start(dnsRules: """[{"domain": "never.example", "process_name": "x", "action": "reject"}]""");

        Assert.Equal(["192.0.2.10"], Msg.Addresses(AskUdp("a.example")));
        Assert.Empty(_lookups);
    }

    [Fact]
    public async Task TcpConnection_CarriesSeveralQueries_AFastAnswerDoesNotWaitForASlowOne()
    {
        Start(dnsRules: """[{"domain": "fixed.example", "action": "predefined", "answer": ["fixed.example. IN A 192.0.2.99"]}]""");
        _upstream.Delay = TimeSpan.FromMilliseconds(500);
        using var tcp = await TcpClientAsync();

        // Pipelined in one write: a query the upstream answers slowly, then one answered by a rule.
        await tcp.SendAsync(Framed(Msg.Query("slow.example", id: 1), Msg.Query("fixed.example", id: 2)));
        var firstBack = await ReadMessageAsync(tcp);
        var secondBack = await ReadMessageAsync(tcp);
        // Then a third query on the same connection, now a cache hit.
        await tcp.SendAsync(Framed(Msg.Query("slow.example", id: 3)));
        var thirdBack = await ReadMessageAsync(tcp);

        Assert.Equal(2, Msg.Id(firstBack!));
        Assert.Equal(["192.0.2.99"], Msg.Addresses(firstBack!));
        Assert.Equal(1, Msg.Id(secondBack!));
        Assert.Equal(["192.0.2.10"], Msg.Addresses(secondBack!));
        Assert.Equal(3, Msg.Id(thirdBack!));
        Assert.Equal(["192.0.2.10"], Msg.Addresses(thirdBack!));
        Assert.Equal(1, _upstream.Count);
    }

    [Fact]
    public async Task TcpConnection_IsClosed_WhenIdle_ButNotWhileQueriesKeepComing()
    {
        Start(tcpIdle: TimeSpan.FromMilliseconds(1500));
        using var tcp = await TcpClientAsync();

        for (int i = 0; i < 4; i++)
        {
            await Task.Delay(300); // each gap is well inside the idle timeout (a loaded test host stretches it)
            await tcp.SendAsync(Framed(Msg.Query("a.example", id: (ushort)i)));
            Assert.Equal(i, Msg.Id((await ReadMessageAsync(tcp))!));
        }
        var started = DateTime.UtcNow;
        Assert.Null(await ReadMessageAsync(tcp)); // closed by the server
        var waited = DateTime.UtcNow - started;
        Assert.InRange(waited, TimeSpan.FromMilliseconds(1000), TimeSpan.FromSeconds(4));
    }

    [Fact]
    public async Task TrafficNoRuleHijacks_IsNotAnswered()
    {
        Start(routeRules: """[{"inbound": "dns-in", "network": "tcp", "action": "reject"}, {"inbound": "dns-in", "action": "hijack-dns"}]""");

        using var tcp = await TcpClientAsync();
        await tcp.SendAsync(Framed(Msg.Query("a.example")));

        Assert.Null(await ReadMessageAsync(tcp));
        Assert.Equal(["192.0.2.10"], Msg.Addresses(AskUdp("a.example"))); // UDP is still hijacked
        Assert.Equal(1, _upstream.Count);
    }

    [Fact]
    public void SniffedDnsQuery_MatchesAProtocolDnsRule()
    {
        Start(routeRules: """[{"action": "sniff"}, {"protocol": "dns", "action": "hijack-dns"}]""");

        Assert.Equal(["192.0.2.10"], Msg.Addresses(AskUdp("a.example")));
    }

    [Fact]
    public async Task UdpOnlyListener_RefusesTcp()
    {
        Start(network: """, "network": "udp" """);

        Assert.Equal(["192.0.2.10"], Msg.Addresses(AskUdp("a.example")));
        var refused = await Assert.ThrowsAsync<SocketException>(TcpClientAsync);
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
    }

    [Fact]
    public void Dispose_StopsTheReceiveThread_AndFreesThePort()
    {
        Start();
        Assert.Equal(["192.0.2.10"], Msg.Addresses(AskUdp("a.example")));

        _inbound!.Dispose();

        using var again = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        again.Bind(new IPEndPoint(IPAddress.Loopback, _port));
    }

    public async ValueTask DisposeAsync()
    {
        _inbound?.Dispose();
        if (_server is not null) await _server.DisposeAsync();
        await _upstream.DisposeAsync();
    }
}
