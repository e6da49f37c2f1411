using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.Shadowsocks;
using Sluice.Tests;
using Sluice.Packets;

namespace Sluice.Core.Tests.Shadowsocks;

/// <summary>
/// Sluice's Shadowsocks 2022 client against <see cref="Ss2022SpecServer"/> (written from SIP022, with
/// BouncyCastle's BLAKE3) over loopback TCP and an in-memory datagram path, with a fake client clock.
/// </summary>
public sealed class Shadowsocks2022Tests
{
    private static readonly Destination Target = new(NetAddress.Parse("203.0.113.5"), 443);

    private static (ShadowsocksMethod Method, Shadowsocks2022Keys Keys, byte[] Psk) Keys(string method, int identities = 0)
    {
        var m = ShadowsocksMethod.Find(method)!;
        var psks = Enumerable.Range(0, identities + 1).Select(_ => RandomNumberGenerator.GetBytes(m.KeySize)).ToArray();
        var keys = Shadowsocks2022Keys.Parse(m, string.Join(':', psks.Select(Convert.ToBase64String)), out string? error)!;
        Assert.Null(error);
        return (m, keys, psks[^1]);
    }

    private static async Task<(NetworkStream Client, NetworkStream Server)> ConnectedPairAsync()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        var server = await listener.AcceptTcpClientAsync();
        return (client.GetStream(), server.GetStream());
    }

    private static ShadowsocksStream Open(Stream transport, ShadowsocksMethod method, Shadowsocks2022Keys keys, TimeProvider clock)
    {
        var stream = new ShadowsocksStream(transport, method, keys.User, NullLogger.Instance, "ss", Target, TimeSpan.Zero, keys, clock);
        stream.StageHeader([1, 203, 0, 113, 5, 1, 0xbb]);
        return stream;
    }

    [Theory]
    [InlineData("2022-blake3-aes-128-gcm", 0)]
    [InlineData("2022-blake3-aes-256-gcm", 0)]
    [InlineData("2022-blake3-chacha20-poly1305", 0)]
    [InlineData("2022-blake3-aes-256-gcm", 2)]
    public async Task TcpStream_RoundTripsThroughSpecServer(string name, int identities)
    {
        var (method, keys, psk) = Keys(name, identities);
        var server = new Ss2022SpecServer(name, psk, keys.Identities.Length > 0 ? keys.Identities : null);
        var (clientEnd, serverEnd) = await ConnectedPairAsync();
        using var client = Open(clientEnd, method, keys, new FakeClock());
        byte[] big = RandomNumberGenerator.GetBytes(200_000); // over 0xFFFF: more than one chunk each way

        await client.WriteAsync(Encoding.ASCII.GetBytes("hello"));
        await client.WriteAsync(big);
        var (request, reply, readChunk) = await server.AcceptAsync(serverEnd);
        var received = new MemoryStream();
        while (received.Length < 5 + big.Length) received.Write((await readChunk())!);
        await reply(Encoding.ASCII.GetBytes("answer"));
        await reply(big);
        var answer = new byte[6 + big.Length];
        await client.ReadExactlyAsync(answer);

        Assert.Equal("203.0.113.5:443", request.Target);
        Assert.InRange(request.Padding, 1, 900); // no initial payload in the header, so padding
        Assert.Equal([.. "hello"u8, .. big], received.ToArray());
        Assert.Equal([.. "answer"u8, .. big], answer);
    }

    /// <summary>The relay's buffers sealed in place (a 128 KiB one holds two 0xFFFF chunks, a 16 KiB one a part of one) reach the server whole.</summary>
    [Theory]
    [InlineData("2022-blake3-aes-128-gcm")]
    [InlineData("2022-blake3-chacha20-poly1305")]
    public async Task TcpStream_WritesSealedInTheRelaysBuffers_RoundTripThroughSpecServer(string name)
    {
        var (method, keys, psk) = Keys(name);
        var server = new Ss2022SpecServer(name, psk, null);
        var (clientEnd, serverEnd) = await ConnectedPairAsync();
        using var client = Open(clientEnd, method, keys, new FakeClock());
        var sent = new MemoryStream();
        foreach (int bufferLength in new[] { 128 * 1024, 16 * 1024, 128 * 1024 })
        {
            var relayBuffer = new byte[bufferLength];
            Assert.True(client.FitsInPlace(bufferLength, out int offset, out int room));
            Assert.Equal(bufferLength - (bufferLength > 0xFFFF ? 2 : 1) * 34, room);
            foreach (int length in new[] { room, 1, room - 1, 70_000 % room })
            {
                byte[] payload = RandomNumberGenerator.GetBytes(length);
                payload.CopyTo(relayBuffer, offset);
                await client.WriteInPlaceAsync(relayBuffer, offset, length);
                sent.Write(payload);
            }
        }
        var (_, _, readChunk) = await server.AcceptAsync(serverEnd);
        var received = new MemoryStream();
        while (received.Length < sent.Length) received.Write((await readChunk())!);

        Assert.Equal(sent.ToArray(), received.ToArray());
    }

    [Fact]
    public async Task ReplayedRequest_IsRefusedByTheServersSaltPool()
    {
        var (method, keys, psk) = Keys("2022-blake3-aes-128-gcm");
        var server = new Ss2022SpecServer("2022-blake3-aes-128-gcm", psk);
        var recorded = new MemoryStream();
        using (var client = Open(recorded, method, keys, new FakeClock())) await client.WriteAsync("GET /"u8.ToArray());
        byte[] wire = recorded.ToArray();

        await server.AcceptAsync(new MemoryStream(wire));
        var replay = await Assert.ThrowsAsync<InvalidDataException>(() => server.AcceptAsync(new MemoryStream(wire)));

        Assert.Equal("replayed salt", replay.Message);
    }

    [Fact]
    public async Task ClientClockSkew_OverThirtySeconds_IsRefusedByServer()
    {
        var (method, keys, psk) = Keys("2022-blake3-chacha20-poly1305");
        var server = new Ss2022SpecServer("2022-blake3-chacha20-poly1305", psk);
        var clock = new FakeClock();
        clock.Advance(TimeSpan.FromSeconds(31));
        var recorded = new MemoryStream();
        using (var client = Open(recorded, method, keys, clock)) await client.WriteAsync("x"u8.ToArray());

        var e = await Assert.ThrowsAsync<InvalidDataException>(() => server.AcceptAsync(new MemoryStream(recorded.ToArray())));

        Assert.Contains("timestamp off by 31 s", e.Message);
    }

    [Fact]
    public async Task ServerResponseSkewed_IsRefusedByClient_WithReason()
    {
        var (method, keys, psk) = Keys("2022-blake3-aes-256-gcm");
        var server = new Ss2022SpecServer("2022-blake3-aes-256-gcm", psk);
        var (clientEnd, serverEnd) = await ConnectedPairAsync();
        using var client = Open(clientEnd, method, keys, new FakeClock());
        await client.WriteAsync("x"u8.ToArray());
        var (_, reply, _) = await server.AcceptAsync(serverEnd);
        server.Now += 45;
        await reply("late"u8.ToArray());

        var e = await Assert.ThrowsAsync<IOException>(async () => await client.ReadExactlyAsync(new byte[4]));

        Assert.Contains("timestamp is 45 s from this host's clock", e.Message);
    }

    [Fact]
    public async Task ResponseReplayedFromAnotherConnection_IsRefusedByClient()
    {
        var (method, keys, psk) = Keys("2022-blake3-aes-128-gcm");
        var (clientEnd, serverEnd) = await ConnectedPairAsync();
        using var client = Open(clientEnd, method, keys, new FakeClock());
        await client.WriteAsync("mine"u8.ToArray());
        // A genuine response (right key, right time) that answered another connection's request.
        var captured = new CapturingStream();
        await ReplyInto(psk, captured, method, keys);
        await serverEnd.WriteAsync(captured.Written);

        var e = await Assert.ThrowsAsync<IOException>(async () => await client.ReadExactlyAsync(new byte[4]));

        Assert.Contains("answers another request", e.Message);
    }

    /// <summary>A request as a client writes it (another connection's).</summary>
    private static async Task<byte[]> RecordRequestAsync(ShadowsocksMethod method, Shadowsocks2022Keys keys)
    {
        var recorded = new MemoryStream();
        using (var client = Open(recorded, method, keys, new FakeClock())) await client.WriteAsync("other"u8.ToArray());
        return recorded.ToArray();
    }

    /// <summary>A genuine server response to a different request, written into <paramref name="into"/>.</summary>
    private static async Task ReplyInto(byte[] psk, CapturingStream into, ShadowsocksMethod method, Shadowsocks2022Keys keys)
    {
        var server = new Ss2022SpecServer(method.Name, psk);
        var duplex = new DuplexStream(new MemoryStream(await RecordRequestAsync(method, keys)), into);
        var (_, reply, _) = await server.AcceptAsync(duplex);
        await reply("not yours"u8.ToArray());
    }

    private sealed class CapturingStream : MemoryStream
    {
        public byte[] Written => ToArray();
    }

    /// <summary>Reads from one stream, writes to another.</summary>
    private sealed class DuplexStream(Stream read, Stream write) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => read.Read(buffer, offset, count);

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => write.Write(buffer, offset, count);
    }
}
