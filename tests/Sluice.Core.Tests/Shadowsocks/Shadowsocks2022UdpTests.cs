using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.Shadowsocks;
using Sluice.Tests;
using Sluice.Packets;

namespace Sluice.Core.Tests.Shadowsocks;

/// <summary>Sluice's SIP022 UDP session against <see cref="Ss2022SpecServer"/>'s packets, over an in-memory datagram path.</summary>
public sealed class Shadowsocks2022UdpTests
{
    private static readonly Destination Target = new(NetAddress.Parse("198.51.100.10"), 5353);

    /// <summary>Datagrams the client sends are kept; the test hands it datagrams to receive.</summary>
    private sealed class Wire : IUdpChannel
    {
        public List<byte[]> Sent { get; } = [];

        public Channel<byte[]> Incoming { get; } = Channel.CreateUnbounded<byte[]>();

        public void Send(ReadOnlySpan<byte> payload) => Sent.Add(payload.ToArray());

        public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
        {
            byte[] datagram = await Incoming.Reader.ReadAsync(cancellationToken);
            datagram.CopyTo(buffer);
            return datagram.Length;
        }

        public void Dispose()
        {
        }
    }

    private static (Shadowsocks2022UdpChannel Channel, Wire Wire, Ss2022SpecServer Server) Open(string name, int identities = 0)
    {
        var method = ShadowsocksMethod.Find(name)!;
        var psks = Enumerable.Range(0, identities + 1).Select(_ => RandomNumberGenerator.GetBytes(method.KeySize)).ToArray();
        var keys = Shadowsocks2022Keys.Parse(method, string.Join(':', psks.Select(Convert.ToBase64String)), out _)!;
        var wire = new Wire();
        var channel = new Shadowsocks2022UdpChannel(wire, method, keys, Target, new FakeClock(), NullLogger.Instance, "ss");
        return (channel, wire, new Ss2022SpecServer(name, psks[^1], identities > 0 ? psks[..^1] : null));
    }

    private static async Task<string> ReceiveAsync(IUdpChannel channel)
    {
        var buffer = new byte[2048];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        int n = await channel.ReceiveAsync(buffer, timeout.Token);
        return System.Text.Encoding.ASCII.GetString(buffer, 0, n);
    }

    [Theory]
    [InlineData("2022-blake3-aes-128-gcm", 0)]
    [InlineData("2022-blake3-aes-256-gcm", 0)]
    [InlineData("2022-blake3-chacha20-poly1305", 0)]
    [InlineData("2022-blake3-aes-128-gcm", 1)]
    public async Task Packets_RoundTripThroughSpecServer_WithCountingPacketIds(string name, int identities)
    {
        var (channel, wire, server) = Open(name, identities);

        channel.Send("query-1"u8);
        channel.Send("query-2"u8);
        var first = server.OpenClientPacket(wire.Sent[0]);
        var second = server.OpenClientPacket(wire.Sent[1]);
        await wire.Incoming.Writer.WriteAsync(server.SealServerPacket(77, 0, first.Session, "198.51.100.10", 5353, "answer"u8.ToArray()));

        Assert.Equal("198.51.100.10:5353", first.Target);
        Assert.Equal("query-1"u8.ToArray(), first.Payload);
        Assert.Equal(first.Session, second.Session);
        Assert.Equal((0UL, 1UL), (first.PacketId, second.PacketId));
        Assert.Equal("answer", await ReceiveAsync(channel));
    }

    [Theory]
    [InlineData("2022-blake3-aes-256-gcm")]
    [InlineData("2022-blake3-chacha20-poly1305")]
    public async Task ReplayedServerPacket_IsDropped(string name)
    {
        var (channel, wire, server) = Open(name);
        channel.Send("q"u8);
        ulong session = server.OpenClientPacket(wire.Sent[0]).Session;
        byte[] answer = server.SealServerPacket(5, 0, session, "198.51.100.10", 5353, "first"u8.ToArray());

        await wire.Incoming.Writer.WriteAsync(answer);
        await wire.Incoming.Writer.WriteAsync((byte[])answer.Clone()); // the same packet again
        await wire.Incoming.Writer.WriteAsync(server.SealServerPacket(5, 1, session, "198.51.100.10", 5353, "second"u8.ToArray()));

        Assert.Equal("first", await ReceiveAsync(channel));
        Assert.Equal("second", await ReceiveAsync(channel));
    }

    [Fact]
    public async Task ServerPacket_WithSkewedTimestamp_OrForAnotherSession_IsDropped()
    {
        var (channel, wire, server) = Open("2022-blake3-aes-128-gcm");
        channel.Send("q"u8);
        ulong session = server.OpenClientPacket(wire.Sent[0]).Session;

        await wire.Incoming.Writer.WriteAsync(server.SealServerPacket(9, 0, session, "198.51.100.10", 5353, "late"u8.ToArray(), time: server.Now + 31));
        await wire.Incoming.Writer.WriteAsync(server.SealServerPacket(9, 1, session + 1, "198.51.100.10", 5353, "not-ours"u8.ToArray()));
        await wire.Incoming.Writer.WriteAsync(server.SealServerPacket(9, 2, session, "198.51.100.10", 5353, "good"u8.ToArray()));

        Assert.Equal("good", await ReceiveAsync(channel));
    }

    [Fact]
    public void ClientPacket_TimestampComesFromTheClock()
    {
        var (channel, wire, server) = Open("2022-blake3-aes-128-gcm");
        server.Now += 40; // the server's clock is 40 s ahead of the client's fake clock

        channel.Send("q"u8);

        var e = Assert.Throws<InvalidDataException>(() => server.OpenClientPacket(wire.Sent[0]));
        Assert.Contains("timestamp off by -40 s", e.Message);
    }
}
