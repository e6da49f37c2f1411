namespace Sluice.Core.Outbounds.Transport;

/// <summary>
/// A byte stream as V2Ray's gun call (<see cref="GunFraming"/>) over one HTTP/2 stream (<see cref="Http2TunnelStream"/>):
/// each write becomes messages of at most <see cref="MessageData"/> data bytes; reads decode the server's messages
/// (<see cref="GunDecoder"/>) into the caller's buffer; the call's end is the stream's end (its gRPC status is judged
/// by the tunnel's checks). Half-close ends the request (the client's half of the call).
/// </summary>
internal sealed class GunStream(Http2TunnelStream call, string who, int maxMessage) : ConnectionStream
{
    /// <summary>Data bytes per message sent: 32 KiB, about what V2Ray and sing-box send per Hunk.</summary>
    private const int MessageData = 32 * 1024;

    private const int ReadBufferSize = 32 * 1024;

    private readonly GunDecoder _decoder = new(maxMessage);
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly byte[] _in = GC.AllocateUninitializedArray<byte>(ReadBufferSize);
    private int _inStart, _inEnd;
    private bool _ended;

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await _writeLock.WaitAsync(cancellationToken);
        // Messages are framed in a buffer rented for this write: an idle call holds none.
        byte[] framed = System.Buffers.ArrayPool<byte>.Shared.Rent(GunFraming.MaxHeaderLength + Math.Min(buffer.Length, MessageData));
        try
        {
            while (!buffer.IsEmpty)
            {
                var slice = buffer[..Math.Min(buffer.Length, MessageData)];
                int header = GunFraming.WriteHeader(framed, slice.Length);
                slice.Span.CopyTo(framed.AsSpan(header));
                await call.WriteAsync(framed.AsMemory(0, header + slice.Length), cancellationToken);
                buffer = buffer[slice.Length..];
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(framed); // the call's write has completed or failed: nothing reads it
            _writeLock.Release();
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty) return 0;
        while (true)
        {
            if (_inEnd > _inStart)
            {
                int used;
                int written;
                try
                {
                    used = _decoder.Decode(_in.AsSpan(_inStart, _inEnd - _inStart), buffer.Span, out written);
                }
                catch (InvalidDataException e)
                {
                    throw new IOException($"{who}: {e.Message}", e);
                }
                _inStart += used;
                if (written > 0) return written;
            }
            if (_ended) return 0;
            _inStart = _inEnd = 0;
            int n = await call.ReadAsync(_in, cancellationToken);
            if (n == 0)
            {
                _ended = true;
                if (!_decoder.AtMessageBoundary) throw new IOException($"{who}: gRPC: the server ended the call inside a message");
                return 0;
            }
            _inEnd = n;
        }
    }

    public override void ShutdownWrite() => call.ShutdownWrite();

    public override void Abort() => call.Abort();

    protected override void Dispose(bool disposing)
    {
        if (disposing) call.Dispose();
        base.Dispose(disposing);
    }
}
