using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Core.Dns;
using Sluice.Core.Outbounds;

namespace Sluice.Core.Tests.Dns;

/// <summary>A question as a test responder sees it.</summary>
internal sealed record SeenQuery(string Name, ushort Type, byte[] Raw, bool Tcp);

/// <summary>
/// A tiny authoritative-looking DNS responder on 127.0.0.1 (UDP and TCP on the same port). Each
/// query is answered by <see cref="Answer"/> (null = no answer). Counts every query it receives.
/// </summary>
internal sealed class DnsResponder : IAsyncDisposable
{
    private readonly Socket _udp;
    private readonly Socket _tcp;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<SeenQuery> _seen = [];

    public DnsResponder(Func<SeenQuery, byte[]?>? answer = null)
    {
        Answer = answer ?? (q => Msg.Response(q.Raw, Msg.A(q.Name, "192.0.2.10", 300)));
        for (int attempt = 0; ; attempt++)
        {
            _udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            _udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            Port = (ushort)((IPEndPoint)_udp.LocalEndPoint!).Port;
            _tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                _tcp.Bind(new IPEndPoint(IPAddress.Loopback, Port));
                break;
            }
            catch (SocketException) when (attempt < 20)
            {
                _udp.Dispose();
                _tcp.Dispose();
            }
        }
        _tcp.Listen(64);
        _ = UdpLoop();
        _ = TcpLoop();
    }

    public ushort Port { get; }

    public Func<SeenQuery, byte[]?> Answer { get; set; }

    public TimeSpan Delay { get; set; }

    public int Count
    {
        get
        {
            lock (_seen) return _seen.Count;
        }
    }

    public IReadOnlyList<SeenQuery> Seen
    {
        get
        {
            lock (_seen) return _seen.ToArray();
        }
    }

    private async Task UdpLoop()
    {
        var buffer = new byte[65535];
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult r;
            try
            {
                r = await _udp.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
            }
            catch (Exception)
            {
                return;
            }
            var raw = buffer.AsSpan(0, r.ReceivedBytes).ToArray();
            var from = r.RemoteEndPoint;
            _ = Task.Run(async () =>
            {
                var reply = await Respond(raw, tcp: false);
                if (reply is not null) await _udp.SendToAsync(reply, from);
            });
        }
    }

    private async Task TcpLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _tcp.AcceptAsync(_stop.Token);
            }
            catch (Exception)
            {
                return;
            }
            _ = Task.Run(async () =>
            {
                using var stream = new NetworkStream(client, ownsSocket: true);
                await ServeStream(stream);
            });
        }
    }

    /// <summary>Length-prefixed messages until the peer closes (used for TCP and, wrapped in TLS, DoT).</summary>
    public async Task ServeStream(Stream stream)
    {
        var length = new byte[2];
        try
        {
            while (true)
            {
                await stream.ReadExactlyAsync(length, _stop.Token);
                var raw = new byte[BinaryPrimitives.ReadUInt16BigEndian(length)];
                await stream.ReadExactlyAsync(raw, _stop.Token);
                var reply = await Respond(raw, tcp: true);
                if (reply is null) continue;
                var framed = new byte[reply.Length + 2];
                BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)reply.Length);
                reply.CopyTo(framed, 2);
                await stream.WriteAsync(framed, _stop.Token);
            }
        }
        catch (Exception)
        {
            // peer closed or we are stopping
        }
    }

    public async Task<byte[]?> Respond(byte[] raw, bool tcp)
    {
        var seen = new SeenQuery(Msg.QuestionName(raw), Msg.QuestionType(raw), raw, tcp);
        lock (_seen) _seen.Add(seen);
        if (Delay > TimeSpan.Zero) await Task.Delay(Delay);
        return Answer(seen);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _udp.Dispose();
        _tcp.Dispose();
    }
}

/// <summary>Builds and reads DNS messages byte by byte, independently of the code under test.</summary>
internal static class Msg
{
    public static byte[] Name(string name)
    {
        var bytes = new List<byte>();
        foreach (string label in name.TrimEnd('.').Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            bytes.Add((byte)label.Length);
            bytes.AddRange(Encoding.ASCII.GetBytes(label));
        }
        bytes.Add(0);
        return bytes.ToArray();
    }

    public static byte[] Query(string name, ushort type = DnsType.A, ushort id = 0x1234, bool edns = false, ushort ednsSize = 1232)
    {
        var m = new List<byte> { (byte)(id >> 8), (byte)id, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, (byte)(edns ? 1 : 0) };
        m.AddRange(Name(name));
        m.AddRange([(byte)(type >> 8), (byte)type, 0, 1]);
        if (edns) m.AddRange([0, 0, 41, (byte)(ednsSize >> 8), (byte)ednsSize, 0, 0, 0, 0, 0, 0]);
        return m.ToArray();
    }

    /// <summary>A record in wire form with the owner written out.</summary>
    public static byte[] Record(string owner, ushort type, uint ttl, byte[] rdata)
    {
        var r = new List<byte>(Name(owner));
        r.AddRange([(byte)(type >> 8), (byte)type, 0, 1, (byte)(ttl >> 24), (byte)(ttl >> 16), (byte)(ttl >> 8), (byte)ttl, (byte)(rdata.Length >> 8), (byte)rdata.Length]);
        r.AddRange(rdata);
        return r.ToArray();
    }

    public static byte[] A(string owner, string address, uint ttl) => Record(owner, IPAddress.Parse(address).AddressFamily == AddressFamily.InterNetwork ? DnsType.A : DnsType.AAAA, ttl, IPAddress.Parse(address).GetAddressBytes());

    public static byte[] Soa(string zone, uint ttl, uint minimum)
    {
        var rdata = new List<byte>(Name("ns." + zone));
        rdata.AddRange(Name("hostmaster." + zone));
        foreach (uint v in new uint[] { 1, 3600, 600, 86400, minimum })
            rdata.AddRange([(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v]);
        return Record(zone, DnsType.SOA, ttl, rdata.ToArray());
    }

    /// <summary>A response to <paramref name="query"/>: its header and question, then answers (and authority records).</summary>
    public static byte[] Response(byte[] query, params byte[][] answers) => Response(query, 0, answers, []);

    public static byte[] Response(byte[] query, int rcode, byte[][] answers, byte[][] authority)
    {
        int questionEnd = 12;
        while (query[questionEnd] != 0) questionEnd += query[questionEnd] + 1;
        questionEnd += 5;
        var m = new List<byte>(query[..questionEnd]);
        m[2] = (byte)(0x80 | (query[2] & 0x01));
        m[3] = (byte)(0x80 | rcode);
        m[6] = (byte)(answers.Length >> 8);
        m[7] = (byte)answers.Length;
        m[8] = 0;
        m[9] = (byte)authority.Length;
        m[10] = 0;
        m[11] = 0;
        foreach (var a in answers) m.AddRange(a);
        foreach (var a in authority) m.AddRange(a);
        return m.ToArray();
    }

    public static string QuestionName(byte[] m)
    {
        var labels = new List<string>();
        int p = 12;
        while (p < m.Length && m[p] != 0 && m[p] < 64)
        {
            labels.Add(Encoding.ASCII.GetString(m, p + 1, m[p]));
            p += m[p] + 1;
        }
        return string.Join('.', labels);
    }

    public static ushort QuestionType(byte[] m)
    {
        int p = 12;
        while (p < m.Length && m[p] != 0) p += m[p] + 1;
        return p + 3 <= m.Length ? BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(p + 1)) : (ushort)0;
    }

    public static ushort Id(byte[] m) => BinaryPrimitives.ReadUInt16BigEndian(m);

    public static int Rcode(byte[] m) => m[3] & 0x0F;

    public static bool Truncated(byte[] m) => (m[2] & 0x02) != 0;

    public static int Count(byte[] m, int section) => BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(4 + 2 * section));

    /// <summary>Answer-section records as (type, ttl, rdata), following compression pointers only to skip names.</summary>
    public static List<(ushort Type, uint Ttl, byte[] Data)> Answers(byte[] m, int section = 1)
    {
        int p = 12;
        p = SkipName(m, p) + 4;
        var result = new List<(ushort, uint, byte[])>();
        for (int s = 1; s <= 3; s++)
        {
            for (int i = 0; i < Count(m, s); i++)
            {
                p = SkipName(m, p);
                ushort type = BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(p));
                uint ttl = BinaryPrimitives.ReadUInt32BigEndian(m.AsSpan(p + 4));
                int length = BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(p + 8));
                if (s == section) result.Add((type, ttl, m.AsSpan(p + 10, length).ToArray()));
                p += 10 + length;
            }
        }
        return result;
    }

    public static List<string> Addresses(byte[] m) =>
        Answers(m).Where(a => a.Type is DnsType.A or DnsType.AAAA).Select(a => new IPAddress(a.Data).ToString()).ToList();

    private static int SkipName(byte[] m, int p)
    {
        while (true)
        {
            if ((m[p] & 0xC0) == 0xC0) return p + 2;
            if (m[p] == 0) return p + 1;
            p += m[p] + 1;
        }
    }
}

/// <summary>Builds servers over loopback responders and runs queries through them.</summary>
internal static class DnsKit
{
    public static readonly DnsQuerier Tun = DnsQuerier.Anonymous("tun-in");

    public static RemoteDnsServerOptions Udp(string tag, DnsResponder responder, string type = "udp") =>
        new(type, tag, "127.0.0.1", responder.Port, null, null, null, null);

    public static DnsServer Server(DnsOptions options, TimeProvider? time = null, Func<string?, IOutbound>? detours = null, string? resolvConf = null, ushort nameserverPort = 53) =>
        DnsServer.Create(options, detours ?? (t => throw new InvalidOperationException($"no detour {t} in this test")), new PlainSockets(),
            NullLoggerFactory.Instance, time ?? TimeProvider.System, new DnsEnvironment(resolvConf ?? "/nonexistent/resolv.conf", nameserverPort, []));

    public static async Task<byte[]> Ask(this DnsServer server, byte[] query, DnsQuerier? querier = null, int maxUdpSize = 0)
    {
        var response = new byte[65535];
        int n = await server.HandleAsync(query, response, querier ?? Tun, maxUdpSize, CancellationToken.None);
        return response[..n];
    }

    public static Task<byte[]> Ask(this DnsServer server, string name, ushort type = DnsType.A, DnsQuerier? querier = null) =>
        server.Ask(Msg.Query(name, type), querier);
}
