using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Core.Configuration;
using Sluice.Core.Dns;
using Sluice.Core.Outbounds;
using Sluice.Packets;

namespace Sluice.Fuzz.Targets;

/// <summary>
/// The DNS codec over untrusted bytes, for SharpFuzz (fuzz/Sluice.Fuzz "dns") and the bounded run in
/// the unit tests. Feeds the input as a client query (through a fresh server on a fresh fake clock, so
/// an input means the same whatever ran before it, with servers that answer without the network), and
/// as an upstream answer to the question the input itself carries. Any exception is a bug; the one
/// round-trip invariant is that an answer carries the query's ID.
/// </summary>
public static class DnsFuzzTarget
{
    private static DnsServer NewServer() => DnsServer.Create(
        new DnsOptions
        {
            Servers =
            [
                new HostsDnsServerOptions("hosts", [], new Dictionary<string, IReadOnlyList<NetAddress>>
                {
                    ["example.org"] = [NetAddress.Parse("192.0.2.1"), NetAddress.Parse("2001:db8::1")],
                }),
                new FakeIpDnsServerOptions("fake", FakeIpDnsServerOptions.DefaultInet4Range, FakeIpDnsServerOptions.DefaultInet6Range),
            ],
            Rules =
            [
                new DefaultDnsRuleOptions { DomainSuffix = ["fake.test"], Action = new DnsRouteAction("fake") },
                new DefaultDnsRuleOptions { DomainKeyword = ["predef"], Action = new DnsPredefinedAction(DnsRcode.NoError, ["predef.test. IN A 192.0.2.7", "predef.test. IN TXT \"x\""], [], []) },
                new DefaultDnsRuleOptions { DomainRegex = ["^rej"], Action = new DnsRejectAction(false) },
            ],
            Final = "hosts",
        },
        _ => throw new InvalidOperationException("no detours in the fuzz target"),
        new NoSockets(),
        NullLoggerFactory.Instance,
        new Sluice.Tests.FakeClock(),
        DnsEnvironment.None);

    private static readonly DnsQuerier Querier = DnsQuerier.Anonymous("tun-in");

    public static void Run(ReadOnlySpan<byte> data)
    {
        byte[] input = data.ToArray();
        var response = new byte[DnsWire.MaxMessage];
        var server = NewServer();
        foreach (int udp in (int[])[512, 0])
        {
            var task = server.HandleAsync(input, response, Querier, udp, CancellationToken.None);
            if (!task.IsCompleted) throw new InvalidOperationException("a network-free query went asynchronous");
            int n = task.Result;
            if (n < 0 || n > response.Length || (udp > 0 && n > 512)) throw new InvalidOperationException($"bad response length {n}");
            if (n >= 2 && input.Length >= 2 && (response[0] != input[0] || response[1] != input[1]))
                throw new InvalidOperationException("an answer does not carry its query's ID");
        }

        // As an upstream answer: to the question it carries (so the checks past the question run).
        Span<byte> name = stackalloc byte[DnsName.MaxWireLength];
        DnsQuery.Parse(data, name, out var parsed, out int nameLength);
        if (parsed.QuestionEnd > DnsWire.HeaderLength)
        {
            var answer = DnsServer.ParseAnswer(data, data[..parsed.QuestionEnd], name[..nameLength], 0, out _);
            if (answer is not null)
            {
                var copy = new byte[answer.Message.Length + DnsWire.OptLength];
                answer.CopyTo(copy, 1);
                DnsResponse.WriteAnswer(data, parsed, answer, 3, response, 512);
            }
        }
        var cursor = new DnsRecordCursor(data, Math.Min(parsed.QuestionEnd, data.Length));
        if (data.Length >= DnsWire.HeaderLength)
        {
            while (cursor.TryNext(out _))
            {
            }
        }
        Span<char> text = stackalloc char[DnsName.MaxTextLength];
        for (int offset = 0; offset < Math.Min(data.Length, 64); offset++)
        {
            if (DnsName.TryRead(data, offset, name, out int length, out _)) DnsName.ToText(name[..length], text);
        }
    }

    private sealed class NoSockets : ISocketFactory
    {
        public IHostResolver Hosts => throw new InvalidOperationException("no network in the fuzz target");

        public System.Net.Sockets.Socket CreateTcp(System.Net.Sockets.AddressFamily family, DialOptions? dial) => throw new InvalidOperationException("no network in the fuzz target");

        public System.Net.Sockets.Socket CreateUdp(System.Net.Sockets.AddressFamily family, DialOptions? dial) => throw new InvalidOperationException("no network in the fuzz target");

        public System.Net.Sockets.Socket CreateIcmp(System.Net.Sockets.AddressFamily family) => throw new InvalidOperationException("no network in the fuzz target");

        public System.Net.Sockets.Socket CreateTunListener(System.Net.Sockets.AddressFamily family) => throw new InvalidOperationException("no network in the fuzz target");

        public System.Net.Sockets.Socket CreateOnDevice(System.Net.Sockets.AddressFamily family, System.Net.Sockets.SocketType type, string device) =>
            throw new InvalidOperationException("no network in the fuzz target");

        public void TuneAccepted(System.Net.Sockets.Socket accepted, TcpKeepAlive? keepAlive) => throw new InvalidOperationException("no network in the fuzz target");
    }
}
