using System.Security.Cryptography;
using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Core.Outbounds;
using Sluice.Core.Outbounds.Shadowsocks;
using Sluice.Packets;

namespace Sluice.Core.Tests.Shadowsocks;

/// <summary>
/// Sealing in slices: the bytes on the wire are the spec's (SIP004: full 0x3FFF chunks, then the rest) whatever
/// the write size and the sealing buffer, checked against an independent encoder (ss_aead_kat.py, Python's
/// cryptography), and a write the relay sized for a small buffer is sealed into a buffer of that size.
/// </summary>
public sealed class ShadowsocksSealingTests
{
    private static readonly int[] Sizes = [1, 100, 16350, 16383, 16384, 50000, 130800, 131072, 300000];

    /// <summary>Records each write the stream makes to its connection.</summary>
    private sealed class RecordingTransport : MemoryStream
    {
        public List<int> Writes { get; } = [];

        /// <summary>The arrays the writes were sent from.</summary>
        public List<byte[]?> Sources { get; } = [];

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Writes.Add(buffer.Length);
            Sources.Add(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(buffer, out var segment) ? segment.Array : null);
            return base.WriteAsync(buffer, cancellationToken);
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            Writes.Add(buffer.Length);
            base.Write(buffer);
        }
    }

    /// <summary>The server's side of the wire, replayed; what the reading stream sends (its own salt) is dropped.</summary>
    private sealed class Replay(byte[] bytes) : MemoryStream(bytes, writable: false)
    {
        public override void Write(byte[] buffer, int offset, int count)
        {
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;
    }

    private static byte[] Payload(int length, int k)
    {
        var bytes = new byte[length];
        for (int i = 0; i < length; i++) bytes[i] = (byte)((i * 7 + k) % 251);
        return bytes;
    }

    private static ShadowsocksStream Open(Stream transport, ShadowsocksMethod method, byte[] salt) =>
        new(transport, method, method.MasterKey("bench-password"), NullLogger.Instance, "ss", new Destination(NetAddress.Parse("203.0.113.5"), 443),
            TimeSpan.Zero, salt: salt);

    [Theory]
    [InlineData("aes-128-gcm", 662711, "26f79d1297e781bb7f8c45242230f0412f136b5081fb0e6cda11a09c70ed1c7e")]
    [InlineData("chacha20-ietf-poly1305", 662727, "93214204b14fc308dde283188d17ffb7cdd32dd3084ddcf76c89406e2d63d4bd")]
    public async Task WritesOfEverySize_AreSealedByteForByte_AsAnIndependentEncoderSealsThem(string name, int length, string sha256)
    {
        var method = ShadowsocksMethod.Find(name)!;
        byte[] salt = Enumerable.Range(1, method.SaltSize).Select(i => (byte)i).ToArray();
        var wire = new RecordingTransport();
        using (var stream = Open(wire, method, salt))
        {
            stream.StageHeader([1, 203, 0, 113, 5, 0x01, 0xBB]);
            for (int k = 0; k < Sizes.Length; k++) await stream.WriteAsync(Payload(Sizes[k], k));
        }
        byte[] sent = wire.ToArray();
        Assert.Equal(length, sent.Length);
        Assert.Equal(sha256, Convert.ToHexStringLower(SHA256.HashData(sent)));
        Assert.All(wire.Writes, w => Assert.True(w <= 128 * 1024, $"a send of {w} bytes: the sealing buffer is at most 128 KiB"));
    }

    [Fact]
    public async Task AWriteSizedForASmallRelayBuffer_GoesOutAsOneSendOfThatSize()
    {
        var method = ShadowsocksMethod.Find("aes-128-gcm")!;
        var wire = new RecordingTransport();
        using var stream = Open(wire, method, new byte[method.SaltSize]);
        stream.StageHeader([1, 203, 0, 113, 5, 0x01, 0xBB]);
        await stream.WriteAsync(new byte[10]); // the salt and header go with the first bytes
        wire.Writes.Clear();

        int small = stream.PayloadFitting(16 * 1024), large = stream.PayloadFitting(128 * 1024);
        await stream.WriteAsync(new byte[small]);
        await stream.WriteAsync(new byte[large]);

        Assert.Equal(16 * 1024, wire.Writes[0]); // sealed into a 16 KiB buffer, not the 32 KiB one its sealed size would round up to
        Assert.Equal(128 * 1024, wire.Writes[1]); // a full relay buffer's read is one send
        Assert.Equal(2, wire.Writes.Count);
    }

    [Fact]
    public async Task WhatIsSealedInSlices_IsReadBackWhole_ByTheDecoder()
    {
        var method = ShadowsocksMethod.Find("aes-128-gcm")!;
        var wire = new RecordingTransport();
        byte[] data = RandomNumberGenerator.GetBytes(1 << 20);
        using (var writer = Open(wire, method, RandomNumberGenerator.GetBytes(method.SaltSize)))
        {
            for (int offset = 0; offset < data.Length; offset += 200_000) await writer.WriteAsync(data.AsMemory(offset, Math.Min(200_000, data.Length - offset)));
        }
        Assert.Contains(wire.Writes, w => w > 100_000); // large writes went out in large slices

        using var reader = Open(new Replay(wire.ToArray()), method, new byte[method.SaltSize]);
        var back = new MemoryStream();
        var buffer = new byte[40_000];
        for (int n; (n = await reader.ReadAsync(buffer)) > 0;) back.Write(buffer, 0, n);
        Assert.True(data.AsSpan().SequenceEqual(back.ToArray()), "the plaintext came back damaged");
    }

    [Theory]
    [InlineData("aes-128-gcm")]
    [InlineData("chacha20-ietf-poly1305")]
    public Task WritesSealedInTheRelaysSmallBuffer_PutTheSameBytesOnTheWire_AndSendFromThatBuffer(string name) =>
        SealsInPlaceAsTheOrdinaryWriteDoes(name, 16 * 1024, [5000, 1, 100, 16350, 7], 16350);

    // A large relay buffer holds several chunks: each is moved down into its place as it is sealed.
    [Theory]
    [InlineData("aes-128-gcm")]
    [InlineData("chacha20-ietf-poly1305")]
    public Task WritesSealedInTheRelaysLargeBuffer_PutTheSameBytesOnTheWire_AndSendFromThatBuffer(string name) =>
        SealsInPlaceAsTheOrdinaryWriteDoes(name, 128 * 1024, [5000, 130800, 1, 16383, 16384, 32766, 32767, 100000, 7], 130800);

    private static async Task SealsInPlaceAsTheOrdinaryWriteDoes(string name, int bufferLength, int[] sizes, int expectedRoom)
    {
        var method = ShadowsocksMethod.Find(name)!;
        byte[] salt = Enumerable.Range(1, method.SaltSize).Select(i => (byte)i).ToArray();
        var copied = new RecordingTransport();
        var inPlace = new RecordingTransport();
        var relayBuffer = new byte[bufferLength];
        using (var ordinary = Open(copied, method, salt))
        using (var framed = Open(inPlace, method, salt))
        {
            ordinary.StageHeader([1, 203, 0, 113, 5, 0x01, 0xBB]);
            framed.StageHeader([1, 203, 0, 113, 5, 0x01, 0xBB]);
            Assert.True(framed.FitsInPlace(relayBuffer.Length, out int offset, out int room));
            Assert.Equal(expectedRoom, room);
            for (int k = 0; k < sizes.Length; k++)
            {
                var payload = Payload(sizes[k], k);
                await ordinary.WriteAsync(payload);
                relayBuffer.AsSpan().Fill(0xEE); // whatever the relay's buffer held before its read
                payload.CopyTo(relayBuffer, offset);
                await framed.WriteInPlaceAsync(relayBuffer, offset, payload.Length);
            }
        }

        Assert.True(copied.ToArray().AsSpan().SequenceEqual(inPlace.ToArray()), "sealing in place changed the bytes on the wire");
        Assert.Equal(copied.Writes, inPlace.Writes);
        Assert.NotSame(relayBuffer, inPlace.Sources[0]); // the first write carries the salt and header: a sealing buffer of its own
        Assert.All(inPlace.Sources.Skip(1), source => Assert.Same(relayBuffer, source));
    }
}
