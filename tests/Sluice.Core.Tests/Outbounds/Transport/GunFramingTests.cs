using System.Buffers.Binary;
using Sluice.Core.Outbounds.Transport;

namespace Sluice.Core.Tests.Outbounds.Transport;

public sealed class GunFramingTests
{
    private static byte[] Message(int dataLength)
    {
        var data = new byte[dataLength];
        new Random(dataLength).NextBytes(data);
        var framed = new byte[GunFraming.MaxHeaderLength + dataLength];
        int header = GunFraming.WriteHeader(framed, dataLength);
        data.CopyTo(framed, header);
        return framed[..(header + dataLength)];
    }

    private static byte[] Data(int dataLength)
    {
        var data = new byte[dataLength];
        new Random(dataLength).NextBytes(data);
        return data;
    }

    /// <summary>Decodes <paramref name="input"/> fed in pieces of <paramref name="piece"/> bytes into an output of <paramref name="outputSize"/>.</summary>
    private static byte[] Decode(byte[] input, int piece, int outputSize, int maxMessage = 1 << 20)
    {
        var decoder = new GunDecoder(maxMessage);
        var output = new byte[outputSize];
        var result = new List<byte>();
        for (int at = 0; at < input.Length; at += piece)
        {
            ReadOnlySpan<byte> chunk = input.AsSpan(at, Math.Min(piece, input.Length - at));
            while (!chunk.IsEmpty)
            {
                int used = decoder.Decode(chunk, output, out int written);
                result.AddRange(output.AsSpan(0, written));
                chunk = chunk[used..];
            }
        }
        Assert.True(decoder.AtMessageBoundary);
        return [.. result];
    }

    [Fact]
    public void Header_IsTheGrpcPrefix_ThenField1WithItsVarintLength()
    {
        var header = new byte[GunFraming.MaxHeaderLength];

        int length = GunFraming.WriteHeader(header, 300);

        // 5-byte prefix: uncompressed, length 1 + 2 + 300; then key 0x0A and varint 300 = AC 02.
        Assert.Equal("000000012f0aac02", Convert.ToHexStringLower(header.AsSpan(0, length)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(127)]
    [InlineData(128)]
    [InlineData(32 * 1024)]
    [InlineData(70_000)]
    public void Decode_GivesBackTheData_WhateverTheChunkBorders(int dataLength)
    {
        var stream = Message(dataLength).Concat(Message(5)).ToArray();
        var expected = Data(dataLength).Concat(Data(5)).ToArray();

        foreach (int piece in new[] { 1, 2, 3, 5, 6, 7, 4096, stream.Length })
        {
            foreach (int output in new[] { 1, 3, 16 * 1024 })
                Assert.Equal(expected, Decode(stream, piece, output));
        }
    }

    [Fact]
    public void Decode_SkipsUnknownFields_AndConcatenatesRepeatedData_AsXraysMultiHunk()
    {
        // Hunk body: field 2 varint 150, field 3 fixed32, field 1 "ab", field 4 bytes "zz", field 1 "cd".
        byte[] body = [0x10, 0x96, 0x01, 0x1d, 1, 2, 3, 4, 0x0a, 2, (byte)'a', (byte)'b', 0x22, 2, (byte)'z', (byte)'z', 0x0a, 2, (byte)'c', (byte)'d'];
        var message = new byte[5 + body.Length];
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(1), (uint)body.Length);
        body.CopyTo(message, 5);

        Assert.Equal("abcd"u8.ToArray(), Decode(message, 1, 8));
    }

    [Fact]
    public void Decode_RefusesAMessageOverTheBound_ANuisance4GiBAnnouncement()
    {
        byte[] prefix = [0, 0xff, 0xff, 0xff, 0xff, 0x0a];

        var error = Assert.Throws<InvalidDataException>(() => new GunDecoder(4 * 1024 * 1024).Decode(prefix, new byte[16], out _));

        Assert.Contains("4294967295 bytes", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0100000002", "compressed")]
    [InlineData("00000000020a05", "runs past its message")] // field 1 claims 5 bytes of a 2-byte message
    [InlineData("00000000010b", "wire type 3")]
    [InlineData("000000000b0affffffffffffffffffff01", "too long")]
    public void Decode_RefusesMalformedMessages(string hex, string phrase)
    {
        var error = Assert.Throws<InvalidDataException>(() => Decode(Convert.FromHexString(hex), 1, 4));

        Assert.Contains(phrase, error.Message, StringComparison.Ordinal);
    }
}
