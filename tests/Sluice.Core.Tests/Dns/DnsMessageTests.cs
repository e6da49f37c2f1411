using Sluice.Core.Dns;
using Sluice.Fuzz.Targets;

namespace Sluice.Core.Tests.Dns;

public class DnsMessageTests
{
    [Fact]
    public void Name_FollowsBackwardPointers_AndLowercases()
    {
        // header, then "Example.ORG" at 12, then "www" + pointer to 12 at 25
        byte[] m = [.. new byte[12], 7, .. "Example"u8, 3, .. "ORG"u8, 0, 3, .. "www"u8, 0xC0, 12];
        Span<byte> wire = stackalloc byte[255];
        Assert.True(DnsName.TryRead(m, 25, wire, out int length, out int next));
        Assert.Equal(31, next);
        Assert.Equal("www.example.org", DnsName.ToText(wire[..length]));
    }

    [Theory]
    [InlineData(new byte[] { 0xC0, 12 })]              // points at itself
    [InlineData(new byte[] { 0xC0, 14, 0 })]           // points forwards
    [InlineData(new byte[] { 1, (byte)'a', 0xC0, 12 })] // a loop through an earlier label
    [InlineData(new byte[] { 0x40, 0 })]               // extended label type
    [InlineData(new byte[] { 5, (byte)'a' })]          // label past the end
    [InlineData(new byte[] { 0xC0 })]                  // half a pointer
    public void Name_RejectsLoopsForwardPointersAndTruncation(byte[] name)
    {
        byte[] m = [.. new byte[12], .. name];
        Span<byte> wire = stackalloc byte[255];
        Assert.False(DnsName.TryRead(m, 12, wire, out _, out _));
    }

    [Fact]
    public void Name_LongerThan255Bytes_IsRejected()
    {
        var m = new List<byte>(new byte[12]);
        for (int i = 0; i < 5; i++)
        {
            m.Add(63);
            m.AddRange(Enumerable.Repeat((byte)'a', 63));
        }
        m.Add(0);
        Span<byte> wire = stackalloc byte[255];
        Assert.False(DnsName.TryRead(m.ToArray(), 12, wire, out _, out _));
    }

    [Fact]
    public void Name_ToText_EscapesDotsAndBinaryBytes()
    {
        byte[] wire = [3, (byte)'a', (byte)'.', 1, 1, 0x20, 0];
        Assert.Equal(@"a\.\001.\032", DnsName.ToText(wire));
    }

    [Fact]
    public async Task CachedAnswer_IsWrittenAsGoldenBytes()
    {
        await using var up = new DnsResponder(q => Msg.Response(q.Raw, Msg.A(q.Name, "192.0.2.10", 300)));
        await using var server = DnsKit.Server(new DnsOptions { Servers = [DnsKit.Udp("up", up)] });
        var answer = await server.Ask(Msg.Query("a.example", id: 0xBEEF));
        byte[] golden =
        [
            0xBE, 0xEF, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
            1, (byte)'a', 7, .. "example"u8, 0, 0, 1, 0, 1,
            1, (byte)'a', 7, .. "example"u8, 0, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 10,
        ];
        Assert.Equal(golden, answer);
    }

    [Theory]
    [InlineData(new byte[] { 1, 2, 3 }, 0)]                                   // runt: no ID to answer
    [InlineData(new byte[] { 0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0 }, 0)] // a response: never answered (loops)
    [InlineData(new byte[] { 0, 1, 0x01, 0, 0, 2, 0, 0, 0, 0, 0, 0 }, 1)]   // two questions: FORMERR
    [InlineData(new byte[] { 0, 1, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1 }, 1)] // compressed question
    [InlineData(new byte[] { 0, 1, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 97 }, 1)] // question cut short
    [InlineData(new byte[] { 0, 1, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 41 }, 1)] // OPT cut short
    [InlineData(new byte[] { 0, 1, 0x29, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1 }, 4)] // opcode UPDATE: NOTIMP
    [InlineData(new byte[] { 0, 1, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 252, 0, 1 }, 4)] // AXFR: NOTIMP
    public async Task MalformedQuery_IsAnsweredWithAnErrorOrDropped(byte[] query, int expected)
    {
        await using var up = new DnsResponder();
        await using var server = DnsKit.Server(new DnsOptions { Servers = [DnsKit.Udp("up", up)] });
        var answer = await server.Ask(query, maxUdpSize: 512);
        if (expected == 0)
        {
            Assert.Empty(answer);
        }
        else
        {
            Assert.Equal(expected, Msg.Rcode(answer));
            Assert.Equal(1, Msg.Id(answer));
        }
        Assert.Equal(0, up.Count);
    }

    public static TheoryData<string, Func<byte[], byte[]?>> BadAnswers => new()
    {
        { "wrong ID", q => Msg.Response([(byte)(q[0] ^ 0xFF), .. q[1..]], Msg.A("x.example", "192.0.2.1", 60)) },
        { "not a response", q => q },
        { "other question", q => Msg.Response(Msg.Query("other.example", id: Msg.Id(q)), Msg.A("other.example", "192.0.2.1", 60)) },
        { "record past the end", q => Msg.Response(q, Msg.A("x.example", "192.0.2.1", 60))[..^2] },
        { "pointer loop in a record", q => SelfPointingRecord(q) },
        { "counts lie", q => { var r = Msg.Response(q, Msg.A("x.example", "192.0.2.1", 60)); r[7] = 9; return r; } },
        { "garbage", _ => [1, 2, 3, 4, 5] },
    };

    /// <summary>One answer whose owner name is a pointer to itself.</summary>
    private static byte[] SelfPointingRecord(byte[] query)
    {
        var r = Msg.Response(query, []);
        int at = r.Length;
        r[7] = 1;
        return [.. r, 0xC0, (byte)at, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1];
    }

    [Theory]
    [MemberData(nameof(BadAnswers))]
    public async Task MalformedUpstreamAnswer_GivesServFail_AndIsNotCached(string what, Func<byte[], byte[]?> bad)
    {
        await using var up = new DnsResponder(q => bad(q.Raw));
        await using var server = DnsKit.Server(new DnsOptions { Servers = [new RemoteDnsServerOptions("tcp", "up", "127.0.0.1", up.Port, null, null, null, null)], Timeout = TimeSpan.FromSeconds(2) });
        var answer = await server.Ask("x.example");
        Assert.True(Msg.Rcode(answer) == 2, what);
        up.Answer = q => Msg.Response(q.Raw, Msg.A(q.Name, "192.0.2.1", 60));
        Assert.Equal(["192.0.2.1"], Msg.Addresses(await server.Ask("x.example")));
    }

    [Fact]
    public async Task LargeAnswer_OverUdp_IsTruncatedToTheClientsSize_AndWholeOverTcp()
    {
        await using var up = new DnsResponder(q => Msg.Response(q.Raw, Enumerable.Range(1, 60).Select(i => Msg.A(q.Name, $"192.0.2.{i}", 300)).ToArray()));
        await using var server = DnsKit.Server(new DnsOptions { Servers = [new RemoteDnsServerOptions("tcp", "up", "127.0.0.1", up.Port, null, null, null, null)] });

        var plain = await server.Ask(Msg.Query("big.example"), maxUdpSize: 4096);
        Assert.True(Msg.Truncated(plain));
        Assert.Equal(0, Msg.Count(plain, 1));
        Assert.True(plain.Length <= 512);

        var edns = await server.Ask(Msg.Query("big.example", edns: true, ednsSize: 4096), maxUdpSize: 4096);
        Assert.False(Msg.Truncated(edns));
        Assert.Equal(60, Msg.Addresses(edns).Count);
        Assert.Equal(1, Msg.Count(edns, 3)); // our OPT

        var tcp = await server.Ask(Msg.Query("big.example"));
        Assert.Equal(60, Msg.Addresses(tcp).Count);
        Assert.Equal(0, Msg.Count(tcp, 3));
    }

    [Fact]
    public void FuzzTarget_SurvivesMutatedMessages()
    {
        byte[][] seeds =
        [
            Msg.Query("example.org"),
            Msg.Query("a.fake.test", DnsType.AAAA, edns: true),
            Msg.Query("predef.test"),
            Msg.Query("rej.example", DnsType.TXT),
            Msg.Response(Msg.Query("example.org"), 3, [], [Msg.Soa("org", 60, 30)]),
            Msg.Response(Msg.Query("example.org"), Msg.Record("example.org", DnsType.CNAME, 60, [0xC0, 12]), Msg.A("example.org", "192.0.2.1", 5)),
            [],
        ];
        MutationCampaign.RunBounded(DnsFuzzTarget.Run, seeds, rounds: 100_000, seed: 1053);
    }
}
