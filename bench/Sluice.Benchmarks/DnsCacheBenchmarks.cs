using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Core.Dns;
using Sluice.Core.Outbounds;
using Sluice.Core.Tun;
using Sluice.Tests;

namespace Sluice.Benchmarks;

/// <summary>
/// DnsServer.HandleAsync on its hot paths: a cache hit (UDP with EDNS, the common case), a fakeip
/// answer, and a rejected query. The cache is filled once from a loopback responder in setup; the
/// measured calls complete synchronously and must not allocate.
/// </summary>
[MemoryDiagnoser]
public class DnsCacheBenchmarks
{
    private readonly byte[] _response = new byte[1232];
    private readonly DnsQuerier _querier = DnsQuerier.Anonymous("tun-in");
    private DnsServer _server = null!;
    private Socket _upstream = null!;
    private byte[] _cachedQuery = null!;
    private byte[] _fakeQuery = null!;
    private byte[] _rejectedQuery = null!;

    [GlobalSetup]
    public void Setup()
    {
        _upstream = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        _upstream.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        ushort port = (ushort)((IPEndPoint)_upstream.LocalEndPoint!).Port;
        _ = Task.Run(Respond);

        _server = DnsServer.Create(
            new DnsOptions
            {
                Servers =
                [
                    new RemoteDnsServerOptions("udp", "up", "127.0.0.1", port, null, null, null, null),
                    new FakeIpDnsServerOptions("fake", IpPrefix.Parse("198.18.0.0/15"), null),
                ],
                Rules =
                [
                    new DefaultDnsRuleOptions { DomainSuffix = ["fake.example"], Action = new DnsRouteAction("fake") },
                    new DefaultDnsRuleOptions { DomainKeyword = ["ads"], Action = new DnsRejectAction(false) },
                ],
                Final = "up",
            },
            _ => throw new InvalidOperationException(),
            new PlainSockets(),
            NullLoggerFactory.Instance,
            TimeProvider.System,
            DnsEnvironment.None);
        _cachedQuery = Query("www.example.org", 1);
        _fakeQuery = Query("cdn.fake.example", 1);
        _rejectedQuery = Query("ads.tracker.example", 1);
        int n = _server.HandleAsync(_cachedQuery, _response, _querier, 1232, CancellationToken.None).AsTask().GetAwaiter().GetResult();
        if (n == 0 || _server.Statistics.UpstreamQueries != 1) throw new InvalidOperationException("setup: the cache was not filled");
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _server.DisposeAsync();
        _upstream.Dispose();
    }

    [Benchmark(Baseline = true)]
    public int CacheHit() => _server.HandleAsync(_cachedQuery, _response, _querier, 1232, CancellationToken.None).GetAwaiter().GetResult();

    [Benchmark]
    public int FakeIp() => _server.HandleAsync(_fakeQuery, _response, _querier, 1232, CancellationToken.None).GetAwaiter().GetResult();

    [Benchmark]
    public int Rejected() => _server.HandleAsync(_rejectedQuery, _response, _querier, 1232, CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>Answers every query with one A record, TTL one hour.</summary>
    private async Task Respond()
    {
        var buffer = new byte[2048];
        while (true)
        {
            SocketReceiveFromResult r;
            try
            {
                r = await _upstream.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0));
            }
            catch (Exception)
            {
                return;
            }
            int q = r.ReceivedBytes;
            int questionEnd = 12;
            while (buffer[questionEnd] != 0) questionEnd += buffer[questionEnd] + 1;
            questionEnd += 5;
            var answer = new byte[questionEnd + 16];
            buffer.AsSpan(0, questionEnd).CopyTo(answer);
            answer[2] = 0x81;
            answer[3] = 0x80;
            answer[7] = 1;
            answer[11] = 0;
            byte[] record = [0xC0, 12, 0, 1, 0, 1, 0, 0, 0x0E, 0x10, 0, 4, 192, 0, 2, 10];
            record.CopyTo(answer, questionEnd);
            _ = q;
            await _upstream.SendToAsync(answer, r.RemoteEndPoint);
        }
    }

    private static byte[] Query(string name, ushort type)
    {
        var m = new List<byte> { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1 };
        foreach (string label in name.Split('.'))
        {
            m.Add((byte)label.Length);
            m.AddRange(System.Text.Encoding.ASCII.GetBytes(label));
        }
        m.AddRange([0, (byte)(type >> 8), (byte)type, 0, 1]);
        m.AddRange([0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0]); // OPT, UDP size 1232
        return m.ToArray();
    }
}
