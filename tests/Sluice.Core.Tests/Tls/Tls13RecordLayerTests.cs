using Sluice.Core.Outbounds.Tls;
using Xunit;

namespace Sluice.Core.Tests.Tls;

public sealed class Tls13RecordLayerTests
{
    private static readonly byte[] Secret = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();

    private static RecordProtection Keys()
    {
        Assert.True(Tls13CipherSuite.TryGet(Tls13CipherSuite.Aes128GcmSha256, out var suite));
        return new RecordProtection(suite, Secret);
    }

    [Fact]
    public async Task ShortExchange_AllocatesAFractionOfTheFullRecordBuffers()
    {
        // A connection that sends and gets one small record (a proxied request, a 1-byte answer) need not allocate the
        // 116 KiB a layer needs for 16 KiB records and four-record writes.
        var wire = new MemoryStream();
        RecordProtection writeKeys = Keys(), readKeys = Keys();
        byte[] request = new byte[100];
        await RoundTripAsync(wire, writeKeys, readKeys, request); // warm: the async machinery's first-use allocations
        wire.SetLength(0);
        writeKeys = Keys(); readKeys = Keys();

        long before = GC.GetAllocatedBytesForCurrentThread();
        await RoundTripAsync(wire, writeKeys, readKeys, request);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.True(allocated < 24 * 1024, $"a writer and a reader of one 100-byte record allocated {allocated} bytes");
    }

    [Fact]
    public async Task RecordsOfEverySize_RoundTrip_AsTheBuffersGrow()
    {
        var wire = new MemoryStream();
        using var writer = new Tls13RecordLayer(wire);
        writer.SetWriteKeys(Keys());
        var sizes = new[] { 1, 3000, 4090, 5000, 16384, 16385, 70000, 10 };
        var sent = new List<byte>();
        var random = new Random(7);
        foreach (int size in sizes)
        {
            var chunk = new byte[size];
            random.NextBytes(chunk);
            sent.AddRange(chunk);
            await writer.WriteAsync(Tls13RecordLayer.ApplicationData, chunk, CancellationToken.None);
        }

        wire.Position = 0;
        using var reader = new Tls13RecordLayer(new TrickleStream(wire, 1500));
        reader.SetReadKeys(Keys());
        var received = new List<byte>();
        while (true)
        {
            var (type, content) = await reader.ReadAsync(CancellationToken.None);
            if (type == 0) break;
            Assert.Equal(Tls13RecordLayer.ApplicationData, type);
            received.AddRange(content.ToArray());
        }
        Assert.Equal(sent, received);
    }

    [Fact]
    public async Task UnprotectedHandshakeRecords_RoundTrip_PastTheInitialBuffer()
    {
        var wire = new MemoryStream();
        var flight = new byte[20000]; // a long certificate chain: two records of up to 16 KiB
        new Random(3).NextBytes(flight);
        await new Tls13RecordLayer(wire).WriteAsync(Tls13RecordLayer.Handshake, flight, CancellationToken.None);

        wire.Position = 0;
        var reader = new Tls13RecordLayer(wire);
        var received = new List<byte>();
        for (var (type, content) = await reader.ReadAsync(CancellationToken.None); type != 0; (type, content) = await reader.ReadAsync(CancellationToken.None))
        {
            Assert.Equal(Tls13RecordLayer.Handshake, type);
            received.AddRange(content.ToArray());
        }
        Assert.Equal(flight, received);
    }

    private static async Task RoundTripAsync(MemoryStream wire, RecordProtection writeKeys, RecordProtection readKeys, byte[] content)
    {
        var writer = new Tls13RecordLayer(wire);
        writer.SetWriteKeys(writeKeys);
        await writer.WriteAsync(Tls13RecordLayer.ApplicationData, content, CancellationToken.None);
        wire.Position = 0;
        var reader = new Tls13RecordLayer(wire);
        reader.SetReadKeys(readKeys);
        var (type, received) = await reader.ReadAsync(CancellationToken.None);
        Assert.Equal(Tls13RecordLayer.ApplicationData, type);
        Assert.Equal(content.Length, received.Length);
    }

    /// <summary>Hands out at most <paramref name="most"/> bytes per read, as a socket does, so records straddle reads.</summary>
    private sealed class TrickleStream(Stream inner, int most) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, Math.Min(count, most));
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            inner.ReadAsync(buffer[..Math.Min(buffer.Length, most)], cancellationToken);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
